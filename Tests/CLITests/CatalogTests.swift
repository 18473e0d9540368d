import ExportCleanup
import Foundation
import TestSupport
import Testing

/// The catalog's entries: MESSAGE_ID → the header and body lines.
private func catalogEntries(_ text: String) -> [String: [String]] {
    var entries: [String: [String]] = [:]
    var current: String?
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.hasPrefix("-- ") {
            current = String(line.dropFirst(3))
            entries[current!] = []
        } else if let current {
            entries[current]?.append(String(line))
        }
    }
    return entries
}

/// The MESSAGE_IDs of `Sources/ExportCleanup/MessageID.swift`, read from its source (the enum has no list).
private func messageIDs() throws -> Set<String> {
    let source = try String(contentsOfFile: repositoryRoot + "/Sources/ExportCleanup/MessageID.swift", encoding: .utf8)
    return Set(source.matches(of: /"([0-9a-f]{32})"/).map { String($0.output.1) })
}

private let catalogPath = repositoryRoot + "/systemd/export-cleanup.catalog"

/// Runs the daemon until its first sweep under the private journald, then compiles the catalog into a private root
/// (`journalctl --root=DIR --update-catalog`, the file in DIR/usr/lib/systemd/catalog/) and has `journalctl -x`
/// explain the entries with that database.
private let payload = #"""
    bin="$1"; db="$2"; storage="$3"; conf="$4"; catalog="$5"
    "$bin" run --db "$db" --storage "$storage" --config "$conf" --log-target journal --interval-seconds 60 2>"$out/run.err" &
    daemon=$!
    i=0
    until journalctl -D /run/log/journal -o json SYSLOG_IDENTIFIER=export-cleanup 2>/dev/null | grep -q e5e1ef97a9b44505b65864f6c0bc13b1; do
        i=$((i + 1)); [ "$i" -gt 200 ] && break
        sleep 0.05
    done
    kill -TERM "$daemon"; wait "$daemon"
    sleep 0.3
    root="$out/root"
    mkdir -p "$root/usr/lib/systemd/catalog" "$root/var/log" "$root/etc"
    cp "$catalog" "$root/usr/lib/systemd/catalog/"
    [ -f /etc/machine-id ] && cp /etc/machine-id "$root/etc/machine-id"
    journalctl --root="$root" --update-catalog 2>"$out/update.err" || { echo "update-catalog failed: $(cat "$out/update.err")" >&2; exit 3; }
    # journalctl -x reads the compiled catalog from /var/lib/systemd/catalog/database whatever --root or -D say
    # (systemd 252): put the private one there, on a tmpfs of this mount namespace (the host's stays untouched).
    if [ -d /var/lib/systemd/catalog ]; then mount -t tmpfs tmpfs /var/lib/systemd/catalog || exit 4
    else mount -t tmpfs tmpfs /var/lib/systemd || exit 4; mkdir -p /var/lib/systemd/catalog; fi
    cp "$root/var/lib/systemd/catalog/database" /var/lib/systemd/catalog/database || exit 5
    SYSTEMD_COLORS=0 journalctl -D /run/log/journal -x --no-pager -o short-iso SYSLOG_IDENTIFIER=export-cleanup >"$out/explained.txt" 2>"$out/explained.err"
    """#

@Suite("journal message catalog (systemd/export-cleanup.catalog)")
struct CatalogTests {
    @Test("one entry per MESSAGE_ID of MessageID.swift, each with Subject, Defined-By, Support and a body; the README lists them")
    func everyMessageID() throws {
        let entries = catalogEntries(try String(contentsOfFile: catalogPath, encoding: .utf8))
        let ids = try messageIDs()
        #expect(ids.count == 12)
        #expect(Set(entries.keys) == ids)
        for (id, lines) in entries {
            let header = lines.prefix { !$0.isEmpty }
            #expect(header.contains { $0.hasPrefix("Subject: ") }, "\(id)")
            #expect(header.contains("Defined-By: export-cleanup"), "\(id)")
            #expect(header.contains { $0.hasPrefix("Support: ") }, "\(id)")
            let body = lines.drop { !$0.isEmpty }.filter { !$0.isEmpty }
            #expect(body.count >= 3, "\(id): what happened, why it matters, what to do")
        }
        let readme = try String(contentsOfFile: repositoryRoot + "/README.md", encoding: .utf8)
        for id in ids { #expect(readme.contains("`\(id)`"), "\(id) in the README") }
    }

    @Test("journalctl --update-catalog compiles it, and journalctl -x explains the daemon's real entries with their fields",
          .enabled(if: PrivateJournal.canRun, "needs root, unshare --mount and systemd-journald"))
    func explainsRealEntries() throws {
        let fixture = try Fixture()
        let conf = fixture.tmp.sub("empty.conf")
        _ = FileManager.default.createFile(atPath: conf, contents: Data())
        try fixture.addCompleted("exp_cat1", hoursAgo: 48, bytes: 4321)
        let read = { (name: String) in (try? String(contentsOfFile: fixture.tmp.sub(name), encoding: .utf8)) ?? "" }
        do {
            _ = try PrivateJournal.entries(identifier: "export-cleanup", payload: payload,
                                           arguments: [Binary.path, fixture.database, fixture.storage, conf, catalogPath], in: fixture.tmp.path)
        } catch {
            Issue.record("\(error)\nrun: \(read("run.err"))\nexplained: \(read("explained.err"))")
            return
        }
        let explained = read("explained.txt")
        // The sweep's entry, explained: the Subject and the body with the entry's own fields substituted.
        #expect(explained.contains("░░ Subject: export-cleanup sweep finished: 1 files removed, 0 failed, 0 refused"), "\(explained)\n\(read("explained.err"))")
        #expect(explained.contains("░░ 1 files were removed (4321 bytes)"), "\(explained)")
        #expect(explained.contains("░░ Defined-By: export-cleanup"))
        #expect(explained.contains("░░ Support: man:export-cleanup(8)"))
        #expect(explained.contains("░░ Subject: export-cleanup started: sweeping \(fixture.storage) every 60 s"), "\(explained)")
        #expect(explained.contains("░░ Subject: export-cleanup stopping"))
    }
}
