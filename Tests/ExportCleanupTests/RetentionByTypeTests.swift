import ExportCleanup
import ExportCleanupDemo
import ExportStorage
import Foundation
import TestSupport
import Testing

@Suite("retention per export type")
struct RetentionByTypeTests {
    let policy = RetentionPolicy(retentionHours: 24, failedAgeHours: 1, retentionHoursByType: ["hotels": 48, "supplier_summary": 168, "mappings": 2],
                                 failedAgeHoursByType: ["hotels": 6])

    func completed(_ type: StoredValue, hoursAgo: Double) -> ExportJob {
        ExportJob(id: "exp_x1", exportType: type, status: .completed, createdAt: sqlText(-hoursAgo - 1), completedAt: sqlText(-hoursAgo))
    }

    @Test("each type's own retention, the default for types not named (pure: no disk, no database)")
    func decisions() {
        #expect(policy.decide(completed("hotels", hoursAgo: 30), now: fixedNow) == .notDue(.withinRetention(dueAt: at(18))))
        #expect(policy.decide(completed("hotels", hoursAgo: 48), now: fixedNow) == .due(.completed))
        #expect(policy.decide(completed("supplier_summary", hoursAgo: 100), now: fixedNow) == .notDue(.withinRetention(dueAt: at(68))))
        #expect(policy.decide(completed("supplier_summary", hoursAgo: 168), now: fixedNow) == .due(.completed))
        #expect(policy.decide(completed("other", hoursAgo: 24), now: fixedNow) == .due(.completed))
        #expect(policy.decide(completed("other", hoursAgo: 23), now: fixedNow) != .due(.completed))
        #expect(policy.decide(completed("mappings", hoursAgo: 3), now: fixedNow) == .due(.completed))
        #expect(policy.decide(completed(.integer(7), hoursAgo: 25), now: fixedNow) == .due(.completed), "a non-text type takes the default")
        let failed = ExportJob(id: "exp_f1", exportType: "hotels", status: .failed, filePath: "x", createdAt: sqlText(-3))
        #expect(policy.decide(failed, now: fixedNow) == .notDue(.tooRecentlyFailed(dueAt: at(3))))
        var other = failed
        other.exportType = "mappings"
        #expect(policy.decide(other, now: fixedNow) == .due(.failed))
    }

    @Test("the prefilter cutoff is the shortest duration of the rule, so no type's due job is left out")
    func cutoff() {
        #expect(policy.cutoff(for: .completed, now: fixedNow) == at(-2))
        #expect(policy.cutoff(for: .failed, now: fixedNow) == at(-1))
        #expect(RetentionPolicy(retentionHours: 24, retentionHoursByType: ["a": 48]).cutoff(for: .completed, now: fixedNow) == at(-24))
    }

    @Test("which rule and which retention applied, for the dry run's listing")
    func applied() {
        #expect(policy.applied(to: completed("hotels", hoursAgo: 1), rule: .completed).describe(.completed) == "retention 48 h (hotels)")
        #expect(policy.applied(to: completed("other", hoursAgo: 1), rule: .completed).describe(.completed) == "retention 24 h (default)")
        #expect(policy.applied(to: completed("other", hoursAgo: 1), rule: .failed).describe(.failed) == "failed age 1 h (default)")
        #expect(RetentionPolicy(retentionHours: 0.5).applied(to: completed("x", hoursAgo: 1), rule: .completed).hoursText == "0.5")
    }

    @Test("a sweep on disk: each type by its own retention, and the report counts per type")
    func sweep() throws {
        let fixture = try Fixture()
        let jobs: [FixtureJob] = [
            .init(id: "exp_h1", status: "completed", createdHours: -31, completedAt: sqlText(-30), bytes: 10),  // hotels 48: kept
            .init(id: "exp_h2", status: "completed", createdHours: -51, completedAt: sqlText(-50), bytes: 11),  // hotels: due
            .init(id: "exp_s1", type: "supplier_summary", format: .xlsx, status: "completed", createdHours: -51, completedAt: sqlText(-50), bytes: 12),
            .init(id: "exp_s2", type: "supplier_summary", format: .xlsx, status: "completed", createdHours: -201, completedAt: sqlText(-200), bytes: 13),
            .init(id: "exp_m1", type: "mappings", format: .json, status: "completed", createdHours: -4, completedAt: sqlText(-3), bytes: 14),
            .init(id: "exp_o1", type: "rates", status: "completed", createdHours: -31, completedAt: sqlText(-30), bytes: 15),
            .init(id: "exp_o2", type: "rates", status: "completed", createdHours: -11, completedAt: sqlText(-10), bytes: 16),
            .init(id: "exp_f1", status: "failed", createdHours: -3, bytes: 17),  // hotels failed age 6: kept
            .init(id: "exp_f2", type: "rates", status: "failed", createdHours: -3, bytes: 18),
        ]
        try fixture.add(jobs)
        var listed: [String: String] = [:]
        let dry = try fixture.sweeper(readOnly: true).sweep(options: SweepOptions(policy: policy, dryRun: true), now: fixedNow, onItem: { item in
            listed[item.job.id] = policy.applied(to: item.job, rule: item.rule).describe(item.rule)
        })
        #expect(listed == ["exp_h2": "retention 48 h (hotels)", "exp_s2": "retention 168 h (supplier_summary)", "exp_m1": "retention 2 h (mappings)",
                           "exp_o1": "retention 24 h (default)", "exp_f2": "failed age 1 h (default)"])
        #expect(dry.byExportType["hotels"]?.due == 1)
        let report = try fixture.sweeper().sweep(options: SweepOptions(policy: policy), now: fixedNow)
        #expect(report.total.removed == 5)
        #expect(report.byExportType["hotels"] == counts(due: 1, removed: 1, bytes: 11))
        #expect(report.byExportType["supplier_summary"] == counts(due: 1, removed: 1, bytes: 13))
        #expect(report.byExportType["mappings"] == counts(due: 1, removed: 1, bytes: 14))
        #expect(report.byExportType["rates"] == counts(due: 2, removed: 2, bytes: 15 + 18))
        #expect(report.byExportTypeText.hasPrefix("hotels due 1 removed 1 (11 bytes); mappings"))
        for (id, kept) in [("exp_h1", true), ("exp_h2", false), ("exp_s1", true), ("exp_s2", false), ("exp_m1", false), ("exp_o1", false),
                           ("exp_o2", true), ("exp_f1", true), ("exp_f2", false)] {
            let job = jobs.first { $0.id == id }!
            #expect(try fixture.hasFile(job) == kept, "\(id)")
        }
    }

    func counts(due: Int, removed: Int, bytes: Int64) -> SweepReport.TypeCounts {
        var value = SweepReport.TypeCounts()
        value.due = due
        value.removed = removed
        value.bytesFreed = bytes
        value.recordsUpdated = due
        return value
    }
}
