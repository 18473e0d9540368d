#if canImport(Glibc)
import Glibc
#endif

/// Writes all of `bytes` to `fd`, retrying on `EINTR` and short writes.
///
/// On a socket `send(MSG_NOSIGNAL)` is used, so a closed peer yields `EPIPE` instead of `SIGPIPE`.
/// - Returns: 0 on success, else the `errno` of the failed call (`EIO` when nothing could be written).
package func writeAll(fd: Int32, bytes: UnsafeRawBufferPointer, isSocket: Bool = false) -> Int32 {
    guard var next = bytes.baseAddress else { return 0 }
    var remaining = bytes.count
    while remaining > 0 {
        let written = isSocket ? send(fd, next, remaining, Int32(MSG_NOSIGNAL)) : write(fd, next, remaining)
        if written < 0 {
            let error = errno
            if error == EINTR { continue }
            return error
        }
        if written == 0 { return EIO }
        remaining -= written
        next += written
    }
    return 0
}

/// Writes all of `text`'s UTF-8 bytes to `fd`; see ``writeAll(fd:bytes:isSocket:)``.
@discardableResult
package func writeAll(fd: Int32, _ text: String, isSocket: Bool = false) -> Int32 {
    var text = text
    return text.withUTF8 { writeAll(fd: fd, bytes: UnsafeRawBufferPointer($0), isSocket: isSocket) }
}

/// Whether `fd` refers to a socket (journald's stdout/stderr streams are sockets).
package func isSocket(fd: Int32) -> Bool {
    var info = stat()
    guard fstat(fd, &info) == 0 else { return false }
    return (info.st_mode & S_IFMT) == S_IFSOCK
}
