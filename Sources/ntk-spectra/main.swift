import Foundation
import NTKLinearAlgebra
import NTKSpectraCLI

AllocationPolicy.keepFreedMemory()
exit(NTKSpectraCommand.run(arguments: Array(CommandLine.arguments.dropFirst())))
