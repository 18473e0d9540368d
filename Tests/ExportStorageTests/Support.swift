import Foundation
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

extension TemporaryDirectory {
    /// Writes a file of `bytes` bytes with `mode` in the directory; returns its path.
    @discardableResult
    func write(_ name: String, bytes: Int = 10, mode: mode_t = 0o600) -> String {
        let target = sub(name)
        _ = FileManager.default.createFile(atPath: target, contents: Data(repeating: 0x41, count: bytes))
        chmod(target, mode)
        return target
    }
}

/// The permission bits of the entry at `path` (symlinks not followed).
func mode(of path: String) -> mode_t {
    var info = stat()
    precondition(lstat(path, &info) == 0, "lstat \(path)")
    return info.st_mode & 0o7777
}
