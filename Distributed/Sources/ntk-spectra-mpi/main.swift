import Foundation
import NTKLinearAlgebra
import NTKSpectraMPICLI

AllocationPolicy.keepFreedMemory()
exit(NTKSpectraMPICommand.run(arguments: Array(CommandLine.arguments.dropFirst())))
