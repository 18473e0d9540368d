#if canImport(Glibc)
import Glibc
#endif

/// The symbolic name of an errno value, e.g. `EACCES`, for logs and reports; `errno N` for one not listed.
///
/// A table, not glibc's `strerrorname_np`: Swift's Glibc module does not export it (it needs `_GNU_SOURCE`),
/// and it would name 11 `EAGAIN` where `flock` documents `EWOULDBLOCK`.
package func errnoName(_ value: Int32) -> String {
    switch value {
    case EPERM: return "EPERM"
    case ENOENT: return "ENOENT"
    case EIO: return "EIO"
    case EACCES: return "EACCES"
    case EBUSY: return "EBUSY"
    case EEXIST: return "EEXIST"
    case ENOTDIR: return "ENOTDIR"
    case EISDIR: return "EISDIR"
    case EINVAL: return "EINVAL"
    case ENOSPC: return "ENOSPC"
    case EROFS: return "EROFS"
    case ELOOP: return "ELOOP"
    case ENAMETOOLONG: return "ENAMETOOLONG"
    case EWOULDBLOCK: return "EWOULDBLOCK"
    case EINTR: return "EINTR"
    case EMFILE: return "EMFILE"
    case EXDEV: return "EXDEV"
    case ENOTEMPTY: return "ENOTEMPTY"
    default: return "errno \(value)"
    }
}
