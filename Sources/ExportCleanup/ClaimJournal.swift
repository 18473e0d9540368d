/// The text of the claims journal: which records a sweep claimed (or is about to claim) and the entry name of
/// each one's file, so that a sweep cut off between its claim and its unlinks can be finished by the next one.
///
/// One line per claim, its fields separated by one space, each column value exactly as read (storage class and
/// bytes), so the next sweep can ask the store whether the row is still exactly as the claim left it:
///
///     v1 <rule> <key> <id> <export_type> <format> <status> <file_path> <created_at> <completed_at> <expires_at> <entry name>
///
/// A value is `n` (NULL), `i<decimal>`, `r<hex of the IEEE-754 bits>`, `t<hex of the UTF-8 bytes>` or `b<hex>`.
/// Hex keeps every byte exact (a NUL, a newline, invalid UTF-8 never reach this far, but the format would not
/// care). Lines starting with `#` are comments. Written once per batch and synced before the claim commits.
enum ClaimJournal {
    /// One claim and the entry its file has.
    struct Entry: Hashable {
        var claim: JobClaim
        var entryName: String
    }

    static let header = "# export-cleanup claims journal: records claimed by a sweep whose files may not be removed yet; the next sweep finishes them. Do not edit.\n"

    /// Encodes the entries of `groups`, in order, passing `write` at most about 64 KiB at a time (a journal of
    /// thousands of claims is never held whole).
    static func encode<E: Error>(_ groups: [[Entry]], write: (ArraySlice<UInt8>) throws(E) -> Void) throws(E) {
        let piece = 65_536
        var out = Array(header.utf8)
        out.reserveCapacity(piece + 4_096)
        for entry in groups.joined() {
            append(entry, to: &out)
            if out.count >= piece {
                try write(out[...])
                out.removeAll(keepingCapacity: true)
            }
        }
        if !out.isEmpty { try write(out[...]) }
    }

    private static func append(_ entry: Entry, to out: inout [UInt8]) {
        let job = entry.claim.job
        out += "v1 ".utf8
        out += entry.claim.rule.rawValue.utf8
        out.append(UInt8(ascii: " "))
        out += String(job.key).utf8
        for value in [job.storedID, job.exportType, job.format, .text(job.status.rawValue), job.filePath, job.createdAt, job.completedAt,
                      job.expiresAt, .text(entry.entryName)] {
            out.append(UInt8(ascii: " "))
            encode(value, into: &out)
        }
        out.append(UInt8(ascii: "\n"))
    }

    /// The entries, and for each line that cannot be read, its number and why (such a line's file is kept).
    static func decode(_ bytes: [UInt8]) -> (entries: [Entry], problems: [String]) {
        var entries: [Entry] = []
        var problems: [String] = []
        for (index, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || line.first == UInt8(ascii: "#") { continue }
            let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            guard fields.count == 12, fields[0] == "v1", let rule = CleanupRule(rawValue: fields[1]), let key = Int64(fields[2]),
                let values = Optional(fields[3...].map(decodeValue)), !values.contains(nil),
                let exportType = values[1], let format = values[2], case .text(let status)? = values[3],
                case .text(let name)? = values[8], let storedID = values[0]
            else {
                problems.append("line \(index + 1) cannot be read")
                continue
            }
            let id: String
            switch storedID {
            case .text(let text): id = text
            case .integer(let value): id = String(value)
            default:
                problems.append("line \(index + 1) has an id of another kind")
                continue
            }
            let job = ExportJob(key: key, id: id, storedID: storedID, exportType: exportType, format: format, status: JobStatus(rawValue: status),
                                filePath: values[4]!, createdAt: values[5]!, completedAt: values[6]!, expiresAt: values[7]!)
            entries.append(Entry(claim: JobClaim(job: job, rule: rule), entryName: name))
        }
        return (entries, problems)
    }

    private static func encode(_ value: StoredValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(UInt8(ascii: "n"))
        case .integer(let number): out += ("i" + String(number)).utf8
        case .real(let number): out += ("r" + String(number.bitPattern, radix: 16)).utf8
        case .text(let text):
            out.append(UInt8(ascii: "t"))
            hex(text.utf8, into: &out)
        case .blob(let bytes):
            out.append(UInt8(ascii: "b"))
            hex(bytes, into: &out)
        }
    }

    private static func decodeValue(_ field: String) -> StoredValue? {
        guard let tag = field.first else { return nil }
        let rest = String(field.dropFirst())
        switch tag {
        case "n": return rest.isEmpty ? .null : nil
        case "i": return Int64(rest).map(StoredValue.integer)
        case "r": return UInt64(rest, radix: 16).map { .real(Double(bitPattern: $0)) }
        case "t": return unhex(rest).flatMap { bytes in String(validating: bytes, as: UTF8.self).map(StoredValue.text) }
        case "b": return unhex(rest).map(StoredValue.blob)
        default: return nil
        }
    }

    private static let digits = Array("0123456789abcdef".utf8)

    private static func hex(_ bytes: some Sequence<UInt8>, into out: inout [UInt8]) {
        func digit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10 }
        for byte in bytes {
            out.append(digit(byte >> 4))
            out.append(digit(byte & 0xF))
        }
    }

    private static func unhex(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(chars.count / 2)
        var index = 0
        while index < chars.count {
            guard let high = digits.firstIndex(of: chars[index]), let low = digits.firstIndex(of: chars[index + 1]) else { return nil }
            bytes.append(UInt8(high << 4 | low))
            index += 2
        }
        return bytes
    }
}
