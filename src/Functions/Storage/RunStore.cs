using System.Net;
using AgentRuns.Functions.Runs;
using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Storage;

/// <summary>
/// The Runs table's I/O. The only writer of run records and events: <see cref="ApplyAsync{T}"/> reads the record, asks a
/// transition of <see cref="RunTransitions"/> what to do, and writes the new record (If-Match) and the events it appends in
/// one entity-group transaction. Of two writers that read the same record one lands, the other re-reads and decides again.
/// It keeps the index of unfinished runs (<see cref="OpenRunIndex"/>): indexed before a run exists, asked for an early look
/// before an answer is accepted, released after the run ended.
/// </summary>
public sealed partial class RunStore(
    RunTables tables,
    OpenRunIndex index,
    RunEventNotifier notifier,
    IEventOutbox outbox,
    IOptions<RepairOptions> repair,
    TimeProvider time,
    ILogger<RunStore> logger)
{
    /// <summary>More attempts than this means something rewrites the record in a loop: fail rather than spin.</summary>
    private const int MaxAttempts = 64;

    private readonly TableClient _runs = tables.Runs;
    private readonly WrittenRecords _written = new();

    public async Task<RunRecord?> GetAsync(string tenantId, string runId, CancellationToken cancellationToken = default) =>
        (await ReadAsync(tenantId, runId, cancellationToken)).Record;

    /// <summary>Writes a new run and its first events. False when the run already exists (a retried create): nothing is written.</summary>
    public async Task<bool> CreateAsync(RunTransition<RunRecord> creation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(creation);
        var run = creation.Next!;
        await index.TrackAsync(run.TenantId, run.RunId, run.CreatedAt, time.GetUtcNow().AddSeconds(repair.Value.StartGraceSeconds), cancellationToken);
        await outbox.BeforeAppendAsync(run.TenantId, run.RunId, creation.Events!, cancellationToken);
        var actions = new List<TableTransactionAction> { new(TableTransactionActionType.Add, RunRows.ToEntity(run)) };
        actions.AddRange(creation.Events!.Select(e => new TableTransactionAction(TableTransactionActionType.Add, RunRows.ToEntity(run.TenantId, run.RunId, e))));
        try
        {
            _written.Remember(run, await _runs.SubmitTransactionAsync(actions, cancellationToken));
        }
        catch (TableTransactionFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
        {
            return false;
        }

        notifier.Appended(run.RunId, creation.Events!);
        outbox.AfterAppend(run.TenantId, run.RunId, creation.Events!);
        return true;
    }

    /// <summary>
    /// Applies a transition to the run: read, decide, write record and events with If-Match, again from the read if another
    /// writer got there first. Reads and writes go on whatever <paramref name="cancellationToken"/> says once a decision was
    /// made: callers that must not lose a decision (a signal whose client left) pass <see cref="CancellationToken.None"/>.
    /// </summary>
    public async Task<T> ApplyAsync<T>(
        string tenantId,
        string runId,
        Func<RunRecord?, DateTimeOffset, RunTransition<T>> decide,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(decide);
        for (var attempt = 1; ; attempt++)
        {
            // First from what this process last wrote, if anything: the If-Match below tells whether it is still current.
            (RunRecord? Record, ETag ETag) known = default;
            var fromCache = attempt == 1 && _written.TryGet(tenantId, runId, out known);
            var (run, etag) = fromCache ? known : await ReadAsync(tenantId, runId, cancellationToken);
            var transition = decide(run, time.GetUtcNow());
            if (!transition.Writes)
            {
                if (fromCache)
                {
                    continue; // a decision to do nothing is only as good as the read behind it: read
                }

                return transition.Outcome;
            }

            if (run is null)
            {
                throw new InvalidOperationException($"A transition of run {runId} wrote a record that does not exist.");
            }

            var next = transition.Next!;
            var actions = new List<TableTransactionAction>();

            // The inbox follows the pending request, in the same transaction: opened, moved (a new deadline), or closed.
            var inboxKey = next.Status == Model.RunStatus.AwaitingInput && next.Pending is { } pending ? RunRows.InboxKey(runId, pending) : null;
            if (!string.Equals(inboxKey, run.InboxKey, StringComparison.Ordinal))
            {
                if (run.InboxKey is { } stale)
                {
                    actions.Add(new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(tenantId, stale), ETag.All));
                }

                if (inboxKey is not null)
                {
                    actions.Add(new TableTransactionAction(
                        TableTransactionActionType.UpsertReplace, RunRows.ToInboxEntity(tenantId, runId, next.CreatedAt, next.Pending!)));
                }

                next = next with { InboxKey = inboxKey };
            }

            if (next.LastAnswer is { Consumed: false } answer && !ReferenceEquals(answer, run.LastAnswer))
            {
                // Until the orchestration takes this answer in, the repairer is to look soon: it raises the answer again if it was lost.
                await index.CheckByAsync(tenantId, runId, answer.AcceptedAt.AddSeconds(repair.Value.SignalGraceSeconds), cancellationToken);
            }

            await outbox.BeforeAppendAsync(tenantId, runId, transition.Events!, cancellationToken);
            actions.Insert(0, new TableTransactionAction(TableTransactionActionType.UpdateReplace, RunRows.ToEntity(next), etag));
            actions.AddRange(transition.Events!.Select(e => new TableTransactionAction(TableTransactionActionType.Add, RunRows.ToEntity(tenantId, runId, e))));
            try
            {
                var response = await _runs.SubmitTransactionAsync(actions, cancellationToken);
                _written.Remember(next, response);
                notifier.Appended(runId, transition.Events!);
                outbox.AfterAppend(tenantId, runId, transition.Events!);
                if (next.IsTerminal && !run.IsTerminal)
                {
                    await ReleaseAsync(tenantId, runId);
                }

                return transition.Outcome;
            }
            catch (TableTransactionFailedException ex) when (ex.Status == (int)HttpStatusCode.PreconditionFailed && attempt < MaxAttempts)
            {
                // Another writer changed the record since we read it: decide again on what it wrote.
                _written.Forget(tenantId, runId);
            }
        }
    }

    /// <summary>The tenant's runs, newest first, after <paramref name="cursor"/> (a run id); with the next cursor if there are more.</summary>
    public async Task<(IReadOnlyList<RunRecord> Runs, string? NextCursor)> ListAsync(
        string tenantId, string? status, string? cursor, int limit, CancellationToken cancellationToken = default)
    {
        var after = RunRows.RecordKey(cursor ?? "");
        var end = RunRows.RecordPrefix + RunRows.End;
        var filter = status is null
            ? TableClient.CreateQueryFilter($"PartitionKey eq {tenantId} and RowKey gt {after} and RowKey lt {end}")
            : TableClient.CreateQueryFilter($"PartitionKey eq {tenantId} and RowKey gt {after} and RowKey lt {end} and Status eq {status}");
        var page = new List<RunRecord>(limit + 1);
        await foreach (var entity in _runs.QueryAsync<TableEntity>(filter, maxPerPage: Math.Min(limit + 1, 1000), cancellationToken: cancellationToken))
        {
            page.Add(RunRows.ToRecord(entity));
            if (page.Count > limit)
            {
                break;
            }
        }

        if (page.Count > limit)
        {
            page.RemoveAt(limit);
            return (page, page[^1].RunId);
        }

        return (page, null);
    }

    /// <summary>
    /// The tenant's pending requests, soonest deadline first, after <paramref name="cursor"/> (an inbox key this returned): one
    /// range scan of the inbox rows, whatever the number of finished runs.
    /// </summary>
    public async Task<(IReadOnlyList<(string RunId, PendingRequest Request)> Requests, string? NextCursor)> ListPendingAsync(
        string tenantId, string? cursor, int limit, CancellationToken cancellationToken = default)
    {
        var after = cursor ?? RunRows.InboxPrefix;
        var end = RunRows.InboxPrefix + RunRows.End;
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {tenantId} and RowKey gt {after} and RowKey lt {end}");
        var page = new List<(string, PendingRequest, string)>(limit + 1);
        await foreach (var entity in _runs.QueryAsync<TableEntity>(filter, maxPerPage: Math.Min(limit + 1, 1000), cancellationToken: cancellationToken))
        {
            var (runId, request) = RunRows.ToInboxItem(entity);
            page.Add((runId, request, entity.RowKey));
            if (page.Count > limit)
            {
                break;
            }
        }

        var next = page.Count > limit ? page[limit - 1].Item3 : null;
        return ([.. page.Take(limit).Select(p => (p.Item1, p.Item2))], next);
    }

    /// <summary>The run's events with seq greater than <paramref name="afterSeq"/>, ascending, at most <paramref name="limit"/>.</summary>
    public async Task<IReadOnlyList<RunEvent>> ReadEventsAsync(
        string tenantId, string runId, long afterSeq, int limit, CancellationToken cancellationToken = default)
    {
        var after = RunRows.EventKey(runId, afterSeq);
        var end = RunRows.EventPrefix + runId + "|" + RunRows.End;
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {tenantId} and RowKey gt {after} and RowKey lt {end}");
        var result = new List<RunEvent>(Math.Min(limit, 1000));
        await foreach (var entity in _runs.QueryAsync<TableEntity>(filter, maxPerPage: Math.Min(limit, 1000), cancellationToken: cancellationToken))
        {
            result.Add(RunRows.ToEvent(entity));
            if (result.Count >= limit)
            {
                break;
            }
        }

        return result;
    }

    /// <summary>Takes an ended run out of the index. If that fails, the repairer finds the run ended and does it.</summary>
    private async Task ReleaseAsync(string tenantId, string runId)
    {
        try
        {
            await index.ReleaseAsync(tenantId, runId, CancellationToken.None);
        }
#pragma warning disable CA1031 // Best effort: a stale index row costs the repairer one look, nothing more.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogReleaseFailed(logger, ex, runId);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId} ended but could not be taken out of the open-runs index; the repairer will")]
    private static partial void LogReleaseFailed(ILogger logger, Exception exception, string runId);

    private async Task<(RunRecord? Record, ETag ETag)> ReadAsync(string tenantId, string runId, CancellationToken cancellationToken)
    {
        var response = await _runs.GetEntityIfExistsAsync<TableEntity>(tenantId, RunRows.RecordKey(runId), cancellationToken: cancellationToken);
        if (!response.HasValue)
        {
            return (null, default);
        }

        var record = RunRows.ToRecord(response.Value!);
        notifier.Seen(runId, record.LastEventSeq); // events this process did not hand over reach its streams now, not at their next poll
        return (record, response.Value!.ETag);
    }

    /// <summary>
    /// The records this process wrote last, with their ETags, so that the next transition of the same run (the orchestration
    /// writes step after step) can be decided without reading the record first. Only a starting point: the write's If-Match
    /// fails if anyone else wrote since, and the transition is then decided again on a fresh read. API reads never use it.
    /// </summary>
    private sealed class WrittenRecords
    {
        private const int MaxRuns = 4096;
        private readonly System.Collections.Concurrent.ConcurrentDictionary<(string, string), (RunRecord, ETag)> _records = new();

        public bool TryGet(string tenantId, string runId, out (RunRecord? Record, ETag ETag) known)
        {
            if (_records.TryGetValue((tenantId, runId), out var found))
            {
                known = found;
                return true;
            }

            known = default;
            return false;
        }

        public void Remember(RunRecord run, Response<IReadOnlyList<Response>> response)
        {
            var key = (run.TenantId, run.RunId);
            if (run.IsTerminal || response.Value.Count == 0 || response.Value[0].Headers.ETag is not { } etag)
            {
                _records.TryRemove(key, out _);
                return;
            }

            if (_records.Count >= MaxRuns)
            {
                _records.Clear(); // rare; costs one read per run that was in it
            }

            _records[key] = (run, etag);
        }

        public void Forget(string tenantId, string runId) => _records.TryRemove((tenantId, runId), out _);
    }
}
