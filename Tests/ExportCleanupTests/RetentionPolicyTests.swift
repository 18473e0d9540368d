import ExportCleanup
import TestSupport
import Testing

/// The due rules as a pure function: no disk, no database.
@Suite("retention policy")
struct RetentionPolicyTests {
    let policy = RetentionPolicy(retentionHours: 24, failedAgeHours: 1)
    let now = fixedNow

    func completed(_ completedAt: StoredValue, expiresAt: StoredValue = .null, filePath: StoredValue = .text("/x/f.csv")) -> ExportJob {
        ExportJob(id: "exp_1", status: "completed", filePath: filePath, createdAt: sqlText(-100), completedAt: completedAt, expiresAt: expiresAt)
    }

    func failed(_ createdAt: StoredValue, filePath: StoredValue = .text("/x/f.csv")) -> ExportJob {
        ExportJob(id: "exp_1", status: "failed", filePath: filePath, createdAt: createdAt)
    }

    @Test("completed: due exactly at completed_at + retention, not one microsecond or one second before")
    func completedEdge() {
        let cutoff = now.adding(microseconds: -24 * hour)
        #expect(policy.cutoff(for: .completed, now: now) == cutoff)
        #expect(policy.decide(completed(.text(cutoff.databaseText)), now: now) == .due(.completed))
        #expect(policy.decide(completed(.text(cutoff.adding(microseconds: -1).databaseText)), now: now) == .due(.completed))
        let justAfter = cutoff.adding(microseconds: 1)
        #expect(policy.decide(completed(.text(justAfter.databaseText)), now: now)
                == .notDue(.withinRetention(dueAt: now.adding(microseconds: 1))))
        let secondAfter = cutoff.adding(microseconds: 1_000_000)
        #expect(policy.decide(completed(.text(secondAfter.databaseText)), now: now)
                == .notDue(.withinRetention(dueAt: now.adding(microseconds: 1_000_000))))
        // The same edge seen from now: one microsecond before the due moment is not due.
        let job = completed(.text(cutoff.databaseText))
        #expect(policy.decide(job, now: now.adding(microseconds: -1)) == .notDue(.withinRetention(dueAt: now)))
        #expect(policy.decide(job, now: now.adding(microseconds: -1_000_000)) == .notDue(.withinRetention(dueAt: now)))
    }

    @Test("completed: edges hold in every accepted text form")
    func completedEdgeForms() {
        // 2023-11-17 12:00:00 UTC is exactly 24 h before fixedNow.
        for text in ["2023-11-17 12:00:00", "2023-11-17 12:00:00.000000", "2023-11-17T12:00:00Z", "2023-11-17T17:30:00+05:30",
                     "2023-11-17T04:00:00-0800", "2023-11-17T21:00:00+09"] {
            #expect(policy.decide(completed(.text(text)), now: now) == .due(.completed), "\(text)")
            #expect(policy.decide(completed(.text(text)), now: now.adding(microseconds: -1)) == .notDue(.withinRetention(dueAt: now)), "\(text)")
        }
        #expect(policy.decide(completed(.text("2023-11-17 12:00:00.000001")), now: now)
                == .notDue(.withinRetention(dueAt: now.adding(microseconds: 1))))
    }

    @Test("completed: an expires_at later than the retention keeps the file until expires_at")
    func expiresLater() {
        let job = completed(sqlText(-72), expiresAt: sqlText(24))
        #expect(policy.decide(job, now: now) == .notDue(.beforeExpiresAt(dueAt: at(24))))
        #expect(policy.decide(job, now: at(24).adding(microseconds: -1)) == .notDue(.beforeExpiresAt(dueAt: at(24))))
        #expect(policy.decide(job, now: at(24)) == .due(.completed))
        #expect(policy.decide(job, now: at(25)) == .due(.completed))
        // expires_at in another accepted form.
        let offsetJob = completed(sqlText(-72), expiresAt: .text("2023-11-19T21:00:00+09:00"))  // = fixedNow + 24 h
        #expect(policy.decide(offsetJob, now: at(24).adding(microseconds: -1)) == .notDue(.beforeExpiresAt(dueAt: at(24))))
        #expect(policy.decide(offsetJob, now: at(24)) == .due(.completed))
    }

    @Test("completed: an expires_at earlier than the retention does not delete early (retention wins)")
    func expiresEarlier() {
        let job = completed(sqlText(-2), expiresAt: sqlText(-1))
        #expect(policy.decide(job, now: now) == .notDue(.withinRetention(dueAt: at(22))))
        #expect(policy.decide(job, now: at(22).adding(microseconds: -1)) == .notDue(.withinRetention(dueAt: at(22))))
        #expect(policy.decide(job, now: at(22)) == .due(.completed))
        // Past both.
        #expect(policy.decide(completed(sqlText(-30), expiresAt: sqlText(-1)), now: now) == .due(.completed))
        // expires_at exactly now.
        #expect(policy.decide(completed(sqlText(-30), expiresAt: .text(now.databaseText)), now: now) == .due(.completed))
    }

    @Test("completed: a completed_at that cannot be read makes the job undecidable, with column and raw value")
    func completedUndecidable() {
        let cases: [(StoredValue, DateTimeProblem)] = [
            (.null, .null), (.text("yesterday"), .unparseable), (.text("2023-02-30 00:00:00"), .unparseable),
            (.text(""), .unparseable), (.integer(1_700_145_022), .notText(storageClass: "INTEGER")),
            (.real(1_700_145_022.5), .notText(storageClass: "REAL")), (.blob([0x32, 0x30]), .notText(storageClass: "BLOB")),
        ]
        for (raw, problem) in cases {
            #expect(policy.decide(completed(raw), now: now) == .undecidable(rule: .completed, column: "completed_at", raw: raw, problem: problem))
            // Even with an expires_at long past, nothing is guessed.
            #expect(policy.decide(completed(raw, expiresAt: sqlText(-1000)), now: now)
                    == .undecidable(rule: .completed, column: "completed_at", raw: raw, problem: problem))
        }
    }

    @Test("completed: an expires_at that cannot be read makes the job undecidable")
    func expiresUndecidable() {
        for (raw, problem) in [(StoredValue.text("never"), DateTimeProblem.unparseable), (.integer(0), .notText(storageClass: "INTEGER"))] {
            #expect(policy.decide(completed(sqlText(-100), expiresAt: raw), now: now)
                    == .undecidable(rule: .completed, column: "expires_at", raw: raw, problem: problem))
        }
    }

    @Test("completed without a file is still due (its record is updated)")
    func completedWithoutFile() {
        #expect(policy.decide(completed(sqlText(-48), filePath: .null), now: now) == .due(.completed))
    }

    @Test("failed: due at created_at + failed age, only with a file")
    func failedRule() {
        let cutoff = now.adding(microseconds: -hour)
        #expect(policy.cutoff(for: .failed, now: now) == cutoff)
        #expect(policy.decide(failed(.text(cutoff.databaseText)), now: now) == .due(.failed))
        #expect(policy.decide(failed(sqlText(-3)), now: now) == .due(.failed))
        #expect(policy.decide(failed(.text(cutoff.adding(microseconds: 1).databaseText)), now: now)
                == .notDue(.tooRecentlyFailed(dueAt: now.adding(microseconds: 1))))
        #expect(policy.decide(failed(.text(cutoff.adding(microseconds: 1_000_000).databaseText)), now: now)
                == .notDue(.tooRecentlyFailed(dueAt: now.adding(microseconds: 1_000_000))))
        #expect(policy.decide(failed(sqlText(-3), filePath: .null), now: now) == .notDue(.noFile))
        #expect(policy.decide(failed(.text("garbage"), filePath: .null), now: now) == .notDue(.noFile))
        #expect(policy.decide(failed(.text("garbage")), now: now)
                == .undecidable(rule: .failed, column: "created_at", raw: .text("garbage"), problem: .unparseable))
        #expect(policy.decide(failed(.integer(5)), now: now)
                == .undecidable(rule: .failed, column: "created_at", raw: .integer(5), problem: .notText(storageClass: "INTEGER")))
        // completed_at and expires_at play no part for failed jobs.
        var job = failed(sqlText(-3))
        job.completedAt = .text("garbage")
        job.expiresAt = sqlText(1000)
        #expect(policy.decide(job, now: now) == .due(.failed))
    }

    @Test("pending, processing, expired and unknown statuses are never due", arguments: ["pending", "processing", "expired", "COMPLETED", "Failed", "completed ", "", "deleted"])
    func otherStatuses(status: String) {
        let job = ExportJob(id: "exp_1", status: JobStatus(rawValue: status), filePath: .text("/x/f.csv"), createdAt: sqlText(-1000),
                            completedAt: sqlText(-1000), expiresAt: sqlText(-1000))
        #expect(policy.decide(job, now: now) == .notDue(.statusNotSwept))
        let unreadable = ExportJob(id: "exp_1", status: JobStatus(rawValue: status), filePath: .text("/x/f.csv"), createdAt: .integer(1), completedAt: .null)
        #expect(policy.decide(unreadable, now: now) == .notDue(.statusNotSwept))
    }

    @Test("fractional hours are exact to the microsecond")
    func fractionalHours() {
        let half = RetentionPolicy(retentionHours: 1.5, failedAgeHours: 0.25)
        #expect(half.retentionMicroseconds == 5_400_000_000)
        #expect(half.failedAgeMicroseconds == 900_000_000)
        #expect(half.decide(completed(.text(at(-1.5).databaseText)), now: now) == .due(.completed))
        #expect(half.decide(completed(.text(at(-1.5).adding(microseconds: 1).databaseText)), now: now)
                == .notDue(.withinRetention(dueAt: now.adding(microseconds: 1))))
        #expect(half.decide(failed(.text(at(-0.25).databaseText)), now: now) == .due(.failed))
        #expect(half.decide(failed(.text(at(-0.25).adding(microseconds: 1).databaseText)), now: now)
                == .notDue(.tooRecentlyFailed(dueAt: now.adding(microseconds: 1))))
        #expect(RetentionPolicy(retentionHours: 1.0 / 3600, failedAgeHours: 1).retentionMicroseconds == 1_000_000)
        #expect(RetentionPolicy().retentionMicroseconds == 24 * hour)
        #expect(RetentionPolicy().failedAgeMicroseconds == hour)
    }

    @Test("huge retentions saturate instead of overflowing: nothing becomes due")
    func hugeRetention() {
        let forever = RetentionPolicy(retentionHours: 1e30, failedAgeHours: .infinity)
        #expect(forever.retentionMicroseconds == .max)
        #expect(forever.failedAgeMicroseconds == .max)
        #expect(forever.decide(completed(.text("0001-01-01 00:00:00")), now: now) != .due(.completed))
        #expect(forever.decide(failed(.text("0001-01-01 00:00:00")), now: now) != .due(.failed))
    }

    @Test("NaN and negative durations keep forever instead of deleting at once", arguments: [Double.nan, -1, -Double.infinity])
    func nonsenseDurationsKeep(hours: Double) {
        let policy = RetentionPolicy(retentionHours: hours, failedAgeHours: hours)
        #expect(policy.retentionMicroseconds == .max)
        #expect(policy.failedAgeMicroseconds == .max)
        #expect(policy.decide(completed(.text("2000-01-01 00:00:00")), now: now) != .due(.completed))
        #expect(policy.decide(failed(.text("2000-01-01 00:00:00")), now: now) != .due(.failed))
    }
}
