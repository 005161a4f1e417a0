using System.Net;
using Azure;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Storage;

/// <summary>A run that has not ended, as the repairer sees it: when to look at it next, and how often it was looked at.</summary>
public sealed record OpenRun(string TenantId, string RunId, DateTimeOffset CreatedAt, DateTimeOffset CheckAt, int Checks, ETag ETag);

/// <summary>
/// The index of runs that have not ended (table OpenRuns, one partition, RowKey = <c>{tenant}|{run id}</c>), so the repairer
/// looks only at those that are due (<c>CheckAt</c> passed) and never scans finished runs: its cost does not grow with them.
/// A row is written before the change that needs it (create, an accepted signal) and deleted after the run ended, so a
/// missing row never hides a run, and a stale row is harmless: the repairer re-reads the record and lets it go.
/// </summary>
public sealed class OpenRunIndex(RunTables tables)
{
    public const string Partition = "open";

    private readonly TableClient _index = tables.OpenRuns;

    public static string RowKeyFor(string tenantId, string runId) => $"{tenantId}|{runId}";

    /// <summary>Indexes a run about to be created, to be looked at by <paramref name="checkAt"/>.</summary>
    public Task TrackAsync(string tenantId, string runId, DateTimeOffset createdAt, DateTimeOffset checkAt, CancellationToken cancellationToken = default) =>
        _index.UpsertEntityAsync(
            new TableEntity(Partition, RowKeyFor(tenantId, runId))
            {
                ["TenantId"] = tenantId,
                ["RunId"] = runId,
                ["CreatedAt"] = createdAt,
                ["CheckAt"] = checkAt,
                ["Checks"] = 0,
            },
            TableUpdateMode.Replace,
            cancellationToken);

    /// <summary>Asks the repairer to look at an indexed run by <paramref name="checkAt"/>. Does nothing for a run that is not indexed.</summary>
    public async Task CheckByAsync(string tenantId, string runId, DateTimeOffset checkAt, CancellationToken cancellationToken = default)
    {
        try
        {
            await _index.UpdateEntityAsync(
                new TableEntity(Partition, RowKeyFor(tenantId, runId)) { ["CheckAt"] = checkAt, ["Checks"] = 0 },
                ETag.All,
                TableUpdateMode.Merge,
                cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.NotFound)
        {
            // Ended and released meanwhile, or never indexed.
        }
    }

    /// <summary>Removes an ended run from the index.</summary>
    public async Task ReleaseAsync(string tenantId, string runId, CancellationToken cancellationToken = default)
    {
        try
        {
            await _index.DeleteEntityAsync(Partition, RowKeyFor(tenantId, runId), ETag.All, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.NotFound)
        {
        }
    }

    /// <summary>Runs due for a look (CheckAt at or before <paramref name="now"/>), at most <paramref name="max"/>.</summary>
    public async Task<IReadOnlyList<OpenRun>> DueAsync(DateTimeOffset now, int max, CancellationToken cancellationToken = default)
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {Partition} and CheckAt le {now}");
        var due = new List<OpenRun>();
        await foreach (var e in _index.QueryAsync<TableEntity>(filter, maxPerPage: Math.Min(max, 1000), cancellationToken: cancellationToken))
        {
            due.Add(new OpenRun(
                e.GetString("TenantId"), e.GetString("RunId"), e.GetDateTimeOffset("CreatedAt") ?? now, e.GetDateTimeOffset("CheckAt") ?? now,
                e.GetInt32("Checks") ?? 0, e.ETag));
            if (due.Count >= max)
            {
                break;
            }
        }

        return due;
    }

    /// <summary>
    /// Moves the run's next look to <paramref name="checkAt"/>, unless the row changed since it was read (a signal asked for an
    /// earlier look meanwhile): then that earlier time stands.
    /// </summary>
    public async Task RescheduleAsync(OpenRun run, DateTimeOffset checkAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        try
        {
            await _index.UpdateEntityAsync(
                new TableEntity(Partition, RowKeyFor(run.TenantId, run.RunId)) { ["CheckAt"] = checkAt, ["Checks"] = run.Checks + 1 },
                run.ETag,
                TableUpdateMode.Merge,
                cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound)
        {
        }
    }
}
