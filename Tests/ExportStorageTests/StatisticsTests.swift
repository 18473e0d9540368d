import ExportStorage
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("Storage statistics")
struct StatisticsTests {
    func touch(_ path: String, mtime: Int) {
        var times = [timespec(tv_sec: mtime, tv_nsec: 0), timespec(tv_sec: mtime, tv_nsec: 0)]
        utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW)
    }

    @Test("counts a mixed directory in one pass without following symlinks")
    func mixed() throws {
        let tmp = TemporaryDirectory()
        let dir = tmp.sub("exports")
        let storage = StorageDirectory(path: dir)
        try storage.prepare()
        let outside = tmp.write("big-outside.bin", bytes: 1_000_000)
        touch(tmp.write("exports/hotels_exp_1_20231116_143022.csv", bytes: 100), mtime: 1_700_000_000)
        touch(tmp.write("exports/supplier_summary_exp_2_20231116_143022.xlsx", bytes: 200), mtime: 1_700_000_300)
        touch(tmp.write("exports/hotels_exp_3_20231116_143022.json", bytes: 300), mtime: 1_700_000_100)
        touch(tmp.write("exports/notes.txt", bytes: 5), mtime: 1_600_000_000)
        symlink(outside, dir + "/hotels_exp_4_20231116_143022.csv")
        mkdir(dir + "/hotels_exp_5_20231116_143022.csv", 0o700)
        mkfifo(dir + "/fifo", 0o600)

        let stats = try storage.statistics()
        #expect(stats.totalFiles == 4)
        #expect(stats.totalBytes == 605)
        #expect(stats.symlinks == 1)
        #expect(stats.otherEntries == 2)
        #expect(stats.nonconformingFiles == 1)
        #expect(stats.filesByExportType == ["hotels": 2, "supplier_summary": 1])
        #expect(stats.filesByFormat == ["csv": 1, "json": 1, "xlsx": 1])
        #expect(stats.oldestFile?.name == "notes.txt")
        #expect(stats.oldestFile?.modifiedSecondsSinceEpoch == 1_600_000_000)
        #expect(stats.newestFile?.name == "supplier_summary_exp_2_20231116_143022.xlsx")
        #expect(stats.totalMegabytes == 0)
    }

    @Test("an empty directory has no oldest or newest file; megabytes round to two decimals")
    func emptyAndRounding() throws {
        let tmp = TemporaryDirectory()
        let storage = StorageDirectory(path: tmp.sub("exports"))
        try storage.prepare()
        let empty = try storage.statistics()
        #expect(empty.totalFiles == 0)
        #expect(empty.oldestFile == nil && empty.newestFile == nil)
        tmp.write("exports/hotels_exp_1_20231116_143022.csv", bytes: 1_572_864)  // 1.5 MiB
        #expect(try storage.statistics().totalMegabytes == 1.5)
    }
}
