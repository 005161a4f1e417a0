using System.Globalization;
using System.Net;
using Azure;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Storage;

/// <summary>A run that has not ended, as the repairer sees it: when to look at it next, and how often it was looked at.</summary>
/// <param name="ScheduledTicks">The due time (UTC ticks) of the schedule row that points at this run as it was read; null for a row
/// of the version before schedule rows.</param>
public sealed record OpenRun(
    string TenantId, string RunId, DateTimeOffset CreatedAt, DateTimeOffset CheckAt, int Checks, ETag ETag, long? ScheduledTicks = null);

/// <summary>
/// The index of runs that have not ended (table OpenRuns, one partition <c>open</c>), so the repairer reads only the runs that
/// are due and never those that are merely open (thousands waiting days for a human) or finished: a pass costs what is due.
/// A run is indexed before the change that needs it (create, an accepted signal) and released after it ended, so a missing row
/// never hides a run, and a stale row is harmless: the repairer re-reads the record and lets it go.
/// <para>
/// The partition holds three key ranges that cannot overlap. A tenant id is letters, digits, <c>-</c> and <c>_</c>
/// (<c>ApiKeyStore</c>), all of which sort before <c>~</c>, so every key of the previous version sorts before both prefixes here:
/// <list type="bullet">
/// <item><c>~r|{tenant}|{run id}</c>: the run. It records when to look (<c>CheckAt</c>), the due time of its schedule row
/// (<c>ScheduledTicks</c>, the same instant) and the id of the write that last changed it (<c>WriteId</c>).</item>
/// <item><c>~t|{due time, UTC ticks, 19 digits}|{tenant}|{run id}</c>: its schedule row. Every write of a run (track, check by,
/// reschedule, release) writes its schedule row in the same entity-group transaction: deletes the one it had and inserts the new
/// one. Due runs are the key range <c>~t|</c> .. <c>~t|{now}</c>. A schedule row whose run is gone, or now has another due time, is
/// stale and harmless: the reader re-checks the run and deletes it (If-Match, so a row written again meanwhile stays). Each change
/// is one transaction, so a process that dies between two of them leaves no run without its schedule row.</item>
/// <item><c>{tenant}|{run id}</c>: rows of the version before schedule rows. While instances of that version still run they keep
/// writing them; each <see cref="DueAsync"/> first moves up to its batch of them into this form (one transaction each, the old row
/// deleted If-Match), so once none is left the range costs one query that reads nothing.</item>
/// </list>
/// </para>
/// <para>
/// A write's batch can fail although it landed (the storage client sent it again after a lost response and the second try finds
/// the ETag moved, or the schedule row it deletes gone), or because the schedule row it deletes is gone already (404 fails the whole
/// batch). The run's row decides: its <c>WriteId</c> tells a write that landed from another process's, and an unchanged ETag means
/// only the schedule row was missing, so the write is sent again without that delete.
/// </para>
/// <para>
/// The previous version (beside this one during a deployment, or after a rollback) scans for <c>CheckAt</c>: schedule rows have
/// none, and runs in this form keep theirs, so it still sees every unfinished run when it is due and repairs it; it writes only
/// keys of its own form, so it cannot reschedule or release a run in this form (that run stays due for it; this version, back,
/// finds its schedule row as it left it), and an early look it asks for on such a run is lost until the run's next scheduled look.
/// </para>
/// </summary>
public sealed class OpenRunIndex(RunTables tables)
{
    public const string Partition = "open";

    /// <summary>Keys of runs start with this.</summary>
    public const string RunPrefix = "~r|";

    /// <summary>Keys of schedule rows start with this.</summary>
    public const string SchedulePrefix = "~t|";

    /// <summary>Every key of the previous version sorts before this (tenant ids are letters, digits, '-' and '_').</summary>
    private const string LegacyEnd = "~";

    /// <summary>Runs read or moved at once.</summary>
    private const int Concurrency = 16;

    private readonly TableClient _index = tables.OpenRuns;

    public static string RowKeyFor(string tenantId, string runId) => $"{RunPrefix}{tenantId}|{runId}";

    /// <summary>The key the version before schedule rows gave a run.</summary>
    public static string LegacyRowKeyFor(string tenantId, string runId) => $"{tenantId}|{runId}";

    /// <summary>The key of the schedule row that makes the run with key <paramref name="runKey"/> due at <paramref name="ticks"/>.</summary>
    public static string ScheduleKeyFor(long ticks, string runKey) =>
        SchedulePrefix + ticks.ToString("D19", CultureInfo.InvariantCulture) + "|" + runKey[RunPrefix.Length..];

    /// <summary>Indexes a run about to be created, to be looked at by <paramref name="checkAt"/>.</summary>
    public async Task TrackAsync(string tenantId, string runId, DateTimeOffset createdAt, DateTimeOffset checkAt, CancellationToken cancellationToken = default)
    {
        var run = new OpenRun(tenantId, runId, createdAt, checkAt, 0, default, checkAt.UtcTicks);
        TableTransactionAction[] actions =
        [
            new(TableTransactionActionType.UpsertReplace, ToEntity(run, NewWriteId())),
            new(TableTransactionActionType.UpsertReplace, ScheduleRow(checkAt.UtcTicks, RowKeyFor(tenantId, runId))),
        ];
        await _index.SubmitTransactionAsync(actions, cancellationToken);
    }

    /// <summary>Asks the repairer to look at an indexed run by <paramref name="checkAt"/>. Does nothing for a run that is not indexed.</summary>
    public async Task CheckByAsync(string tenantId, string runId, DateTimeOffset checkAt, CancellationToken cancellationToken = default)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            if (await GetAsync(tenantId, runId, cancellationToken) is { } current)
            {
                if (await WriteAsync(current, current with { CheckAt = checkAt, Checks = 0 }, cancellationToken) is not null)
                {
                    return;
                }

                continue; // changed or released meanwhile: read it again
            }

            try
            {
                await _index.UpdateEntityAsync(
                    new TableEntity(Partition, LegacyRowKeyFor(tenantId, runId)) { ["CheckAt"] = checkAt, ["Checks"] = 0 },
                    ETag.All,
                    TableUpdateMode.Merge,
                    cancellationToken);
                return; // a row of the previous version: moved with this time by the next pass
            }
            catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.NotFound)
            {
                if (!(await _index.GetEntityIfExistsAsync<TableEntity>(Partition, RowKeyFor(tenantId, runId), select: ["RowKey"], cancellationToken: cancellationToken)).HasValue)
                {
                    return; // ended and released meanwhile, or never indexed
                }
                // moved into this form meanwhile: write it there
            }
        }
    }

    /// <summary>Removes an ended run from the index, with its schedule row.</summary>
    public async Task ReleaseAsync(string tenantId, string runId, CancellationToken cancellationToken = default)
    {
        var key = RowKeyFor(tenantId, runId);
        var current = await GetAsync(tenantId, runId, cancellationToken);
        if (current is null)
        {
            await DeleteQuietlyAsync(LegacyRowKeyFor(tenantId, runId), ETag.All, cancellationToken);
            return;
        }

        var deleteSchedule = current.ScheduledTicks is not null;
        while (true)
        {
            var actions = new List<TableTransactionAction> { new(TableTransactionActionType.Delete, new TableEntity(Partition, key), current.ETag) };
            if (deleteSchedule)
            {
                actions.Add(new(TableTransactionActionType.Delete, ScheduleRow(current.ScheduledTicks!.Value, key), ETag.All));
            }

            try
            {
                await _index.SubmitTransactionAsync(actions, cancellationToken);
                return;
            }
            catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound)
            {
                // Gone (released by another process, or by this batch's first try), rescheduled meanwhile (release it as it is now: the
                // run has ended), or still as read and only its schedule row was gone: then remove the run alone.
                var now = await GetAsync(tenantId, runId, cancellationToken);
                if (now is null)
                {
                    return;
                }

                deleteSchedule = now.ETag != current.ETag && now.ScheduledTicks is not null;
                current = now;
            }
        }
    }

    /// <summary>
    /// Runs due for a look at <paramref name="now"/>, at most <paramref name="max"/>, soonest first: rows of the previous version are
    /// moved first (at most <paramref name="max"/>), then one range query of the schedule rows due and a read of each one's run.
    /// Stale schedule rows met on the way are deleted. A run whose row cannot be read now (storage failing for it) is left out of
    /// this pass and is due again in the next, so one run's trouble does not stop the others' repair.
    /// </summary>
    public async Task<IReadOnlyList<OpenRun>> DueAsync(DateTimeOffset now, int max, CancellationToken cancellationToken = default)
    {
        await MoveLegacyAsync(max, cancellationToken);

        var end = SchedulePrefix + (now.UtcTicks + 1).ToString("D19", CultureInfo.InvariantCulture);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {Partition} and RowKey ge {SchedulePrefix} and RowKey lt {end}");
        var rows = new List<(string RowKey, long Ticks, string RunKey, ETag ETag)>();
        await foreach (var e in _index.QueryAsync<TableEntity>(filter, maxPerPage: Math.Min(max, 1000), select: ["RowKey"], cancellationToken: cancellationToken))
        {
            var ticks = long.Parse(e.RowKey.AsSpan(SchedulePrefix.Length, 19), NumberStyles.None, CultureInfo.InvariantCulture);
            rows.Add((e.RowKey, ticks, RunPrefix + e.RowKey[(SchedulePrefix.Length + 20)..], e.ETag));
            if (rows.Count >= max)
            {
                break;
            }
        }

        var found = new OpenRun?[rows.Count];
        await Parallel.ForEachAsync(
            Enumerable.Range(0, rows.Count),
            new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                var (rowKey, ticks, runKey, etag) = rows[i];
                try
                {
                    var response = await _index.GetEntityIfExistsAsync<TableEntity>(Partition, runKey, cancellationToken: ct);
                    var run = response.HasValue ? ToOpenRun(response.Value!) : null;
                    if (run?.ScheduledTicks == ticks)
                    {
                        found[i] = run;
                    }
                    else
                    {
                        await DeleteQuietlyAsync(rowKey, etag, ct);
                    }
                }
#pragma warning disable CA1031 // One run's read must not stop the pass: its schedule row stays, so it is due again next pass.
                catch (Exception) when (!ct.IsCancellationRequested)
#pragma warning restore CA1031
                {
                }
            });

        return [.. found.OfType<OpenRun>().DistinctBy(r => (r.TenantId, r.RunId))];
    }

    /// <summary>
    /// Moves rows written by the previous version (key <c>{tenant}|{run}</c>, no schedule row) into this form, at most
    /// <paramref name="max"/>, each in one transaction (the old row deleted If-Match, so a row that version changed meanwhile waits
    /// for the next pass). Returns how many were moved. When none are left this is one query that reads nothing.
    /// </summary>
    public async Task<int> MoveLegacyAsync(int max, CancellationToken cancellationToken = default)
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {Partition} and RowKey lt {LegacyEnd}");
        var legacy = new List<TableEntity>();
        await foreach (var e in _index.QueryAsync<TableEntity>(filter, maxPerPage: Math.Min(max, 1000), cancellationToken: cancellationToken))
        {
            legacy.Add(e);
            if (legacy.Count >= max)
            {
                break;
            }
        }

        var moved = 0;
        await Parallel.ForEachAsync(
            legacy,
            new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = cancellationToken },
            async (old, ct) =>
            {
                var run = ToOpenRun(old);
                run = run with { ScheduledTicks = run.CheckAt.UtcTicks };
                var key = RowKeyFor(run.TenantId, run.RunId);
                TableTransactionAction[] actions =
                [
                    new(TableTransactionActionType.Add, ToEntity(run, NewWriteId())),
                    new(TableTransactionActionType.UpsertReplace, ScheduleRow(run.ScheduledTicks.Value, key)),
                    new(TableTransactionActionType.Delete, new TableEntity(Partition, old.RowKey), old.ETag),
                ];
                try
                {
                    await _index.SubmitTransactionAsync(actions, ct);
                    Interlocked.Increment(ref moved);
                }
                catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
                {
                    // The run is in this form already (this version tracked it too, or an earlier move landed and its response was
                    // lost): the old row is a duplicate.
                    await DeleteQuietlyAsync(old.RowKey, old.ETag, ct);
                }
                catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound)
                {
                    // The previous version changed or released it meanwhile: the next pass looks again.
                }
#pragma warning disable CA1031 // One row's move must not stop the pass: the row stays as it was and the next pass moves it.
                catch (Exception) when (!ct.IsCancellationRequested)
#pragma warning restore CA1031
                {
                }
            });

        return moved;
    }

    /// <summary>
    /// Moves the run's next look to <paramref name="checkAt"/>, unless the row changed since it was read (a signal asked for an
    /// earlier look meanwhile): then that earlier time stands.
    /// </summary>
    public async Task RescheduleAsync(OpenRun run, DateTimeOffset checkAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        if (run.ScheduledTicks is null)
        {
            try
            {
                await _index.UpdateEntityAsync(
                    new TableEntity(Partition, LegacyRowKeyFor(run.TenantId, run.RunId)) { ["CheckAt"] = checkAt, ["Checks"] = run.Checks + 1 },
                    run.ETag,
                    TableUpdateMode.Merge,
                    cancellationToken);
            }
            catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound)
            {
            }

            return;
        }

        await WriteAsync(run, run with { CheckAt = checkAt, Checks = run.Checks + 1 }, cancellationToken);
    }

    /// <summary>The run's row in this form, or null.</summary>
    public async Task<OpenRun?> GetAsync(string tenantId, string runId, CancellationToken cancellationToken = default)
    {
        var response = await _index.GetEntityIfExistsAsync<TableEntity>(Partition, RowKeyFor(tenantId, runId), cancellationToken: cancellationToken);
        return response.HasValue ? ToOpenRun(response.Value!) : null;
    }

    /// <summary>
    /// Replaces <paramref name="current"/> (If-Match its ETag) with <paramref name="next"/> and moves its schedule row to
    /// <paramref name="next"/>'s <c>CheckAt</c>, in one transaction. The new ETag, or null when the run was changed or released meanwhile.
    /// </summary>
    private Task<ETag?> WriteAsync(OpenRun current, OpenRun next, CancellationToken cancellationToken)
    {
        var key = RowKeyFor(current.TenantId, current.RunId);
        var ticks = next.CheckAt.UtcTicks;
        var writeId = NewWriteId();
        return ScheduledRowWrite.ReplaceAsync(
            _index, ToEntity(next with { ScheduledTicks = ticks }, writeId), current.ETag, writeId, ScheduleKeyFor(ticks, key),
            current.ScheduledTicks is { } old ? ScheduleKeyFor(old, key) : null, cancellationToken);
    }

    private Task DeleteQuietlyAsync(string rowKey, ETag etag, CancellationToken cancellationToken) =>
        ScheduledRowWrite.DeleteQuietlyAsync(_index, Partition, rowKey, etag, cancellationToken);

    private static string NewWriteId() => ScheduledRowWrite.NewWriteId();

    private static TableEntity ScheduleRow(long ticks, string runKey) => new(Partition, ScheduleKeyFor(ticks, runKey));

    private static TableEntity ToEntity(OpenRun run, string writeId) => new(Partition, RowKeyFor(run.TenantId, run.RunId))
    {
        ["TenantId"] = run.TenantId,
        ["RunId"] = run.RunId,
        ["CreatedAt"] = run.CreatedAt,
        ["CheckAt"] = run.CheckAt,
        ["Checks"] = run.Checks,
        ["ScheduledTicks"] = run.ScheduledTicks,
        ["WriteId"] = writeId,
    };

    private static OpenRun ToOpenRun(TableEntity e)
    {
        var checkAt = e.GetDateTimeOffset("CheckAt") ?? DateTimeOffset.UnixEpoch; // due; never before 1601, which the Table service refuses to store
        return new(
            e.GetString("TenantId"), e.GetString("RunId"), e.GetDateTimeOffset("CreatedAt") ?? checkAt, checkAt, e.GetInt32("Checks") ?? 0, e.ETag,
            e.RowKey.StartsWith(RunPrefix, StringComparison.Ordinal) ? e.GetInt64("ScheduledTicks") : null);
    }
}
