import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under the system temp dir, removed on deinit.
final class TemporaryDirectory {
    let path: String

    init() {
        var template = Array((NSTemporaryDirectory() + "/export-storage-tests.XXXXXX").utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    func sub(_ name: String) -> String { path + "/" + name }

    @discardableResult
    func write(_ name: String, bytes: Int = 10, mode: mode_t = 0o600) -> String {
        let target = sub(name)
        _ = FileManager.default.createFile(atPath: target, contents: Data(repeating: 0x41, count: bytes))
        chmod(target, mode)
        return target
    }
}

func mode(of path: String) -> mode_t {
    var info = stat()
    precondition(lstat(path, &info) == 0, "lstat \(path)")
    return info.st_mode & 0o7777
}

func exists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}
