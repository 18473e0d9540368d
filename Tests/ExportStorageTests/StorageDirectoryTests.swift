import ExportStorage
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// These tests change the process umask, so they run one at a time.
@Suite("Storage directory and file creation", .serialized)
struct StorageDirectoryTests {
    let name = try! ExportFileName(exportType: "hotels", jobID: "exp_a1b2c3d4e5f6", secondsSinceEpoch: 1_700_145_022, format: .csv)

    func withUmask<T>(_ mask: mode_t, _ body: () throws -> T) rethrows -> T {
        let old = umask(mask)
        defer { umask(old) }
        return try body()
    }

    @Test("creates the directory and parents with mode 0750, and files with 0600, under umask 000 and 077",
          arguments: [mode_t(0o000), 0o077, 0o022])
    func modesUnderUmask(mask: mode_t) throws {
        let tmp = TemporaryDirectory()
        let storage = StorageDirectory(path: tmp.sub("a/b/exports"))
        let (status, path) = try withUmask(mask) {
            let status = try storage.prepare()
            let path = try storage.writeFile(name, contents: Array("id,name\n".utf8))
            return (status, path)
        }
        #expect(status.created)
        #expect(status.warning == nil)
        #expect(mode(of: storage.path) == 0o750)
        #expect(path == tmp.sub("a/b/exports/hotels_exp_a1b2c3d4e5f6_20231116_143022.csv"))
        #expect(mode(of: path) == 0o600)
        #expect(StorageDirectory.fileSize(path) == 8)
    }

    @Test("a umask that removes owner bits still yields 0600")
    func ownerBitsUmask() throws {
        let tmp = TemporaryDirectory()
        let storage = StorageDirectory(path: tmp.sub("exports"))
        let path = try withUmask(0o277) { try storage.writeFile(name, contents: [1, 2, 3]) }
        #expect(mode(of: path) == 0o600)
        #expect(mode(of: storage.path) == 0o750)
    }

    @Test("an existing wider directory is reported, not changed")
    func widerDirectory() throws {
        let tmp = TemporaryDirectory()
        let dir = tmp.sub("exports")
        mkdir(dir, 0o777)
        chmod(dir, 0o775)
        let status = try StorageDirectory(path: dir).prepare()
        #expect(!status.created)
        #expect(status.mode == 0o775)
        #expect(status.warning?.contains("0775") == true)
        #expect(status.warning?.contains("chmod 0750") == true)
        #expect(mode(of: dir) == 0o775)
    }

    @Test("a storage path that is a symlink or a file is an error")
    func notADirectory() throws {
        let tmp = TemporaryDirectory()
        mkdir(tmp.sub("real"), 0o750)
        symlink(tmp.sub("real"), tmp.sub("link"))
        tmp.write("file")
        for path in [tmp.sub("link"), tmp.sub("file")] {
            let error = #expect(throws: ExportStorageError.self) { try StorageDirectory(path: path).prepare() }
            #expect(error?.code == .notADirectory)
            #expect(error?.path == path)
        }
        let openError = #expect(throws: ExportStorageError.self) { try StorageDirectory(path: tmp.sub("link")).open() }
        #expect(openError?.code == .notADirectory)
    }

    @Test("O_EXCL: an existing file is never overwritten")
    func exclusive() throws {
        let tmp = TemporaryDirectory()
        let storage = StorageDirectory(path: tmp.sub("exports"))
        let path = try storage.writeFile(name, contents: Array("first".utf8))
        let error = #expect(throws: ExportStorageError.self) { try storage.writeFile(name, contents: Array("second".utf8)) }
        #expect(error?.code == .fileExists)
        #expect(error?.path == path)
        #expect(error?.errno == EEXIST)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "first")
    }

    @Test("refuses to create through a symlink, leaving its target untouched")
    func noSymlinkFollow() throws {
        let tmp = TemporaryDirectory()
        let storage = StorageDirectory(path: tmp.sub("exports"))
        try storage.prepare()
        let outside = tmp.write("outside.txt", bytes: 3, mode: 0o644)
        symlink(outside, storage.filePath(for: name))
        let error = #expect(throws: ExportStorageError.self) { try storage.createFile(name) }
        #expect(error?.code == .fileExists)
        #expect(StorageDirectory.fileSize(outside) == 3)
        #expect(mode(of: outside) == 0o644)
        // A dangling symlink is refused too (O_EXCL|O_NOFOLLOW), and nothing is created at its target.
        let dangling = try ExportFileName(exportType: "hotels", jobID: "exp_2", secondsSinceEpoch: 0, format: .json)
        symlink(tmp.sub("created-through-link"), storage.filePath(for: dangling))
        #expect(throws: ExportStorageError.self) { try storage.createFile(dangling) }
        #expect(!fileExists(tmp.sub("created-through-link")))
    }

    @Test("fileSize is nil for missing files, directories and symlinks; setFilePermissions sets 0600")
    func sizeAndPermissions() throws {
        let tmp = TemporaryDirectory()
        #expect(StorageDirectory.fileSize(tmp.sub("missing")) == nil)
        #expect(StorageDirectory.fileSize(tmp.path) == nil)
        let file = tmp.write("f", bytes: 1234, mode: 0o644)
        symlink(file, tmp.sub("l"))
        #expect(StorageDirectory.fileSize(tmp.sub("l")) == nil)
        #expect(StorageDirectory.fileSize(file) == 1234)
        try StorageDirectory.setFilePermissions(file)
        #expect(mode(of: file) == 0o600)
        #expect(throws: ExportStorageError.self) { try StorageDirectory.setFilePermissions(tmp.sub("l")) }
        #expect(throws: ExportStorageError.self) { try StorageDirectory.setFilePermissions(tmp.sub("missing")) }
    }
}
