import Foundation
import NTKSpectraCLI

exit(NTKSpectraCommand.run(arguments: Array(CommandLine.arguments.dropFirst())))
