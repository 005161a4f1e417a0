using System.Net;
using AgentRuns.Functions.Orchestrations;
using Azure;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Storage;

/// <summary>
/// The RunEvents table: an append-only log per run, read in seq order by range queries on the RowKey.
/// </summary>
public sealed class EventLog(RunTables tables)
{
    /// <summary>An entity-group transaction holds at most 100 entities.</summary>
    public const int MaxBatch = 100;

    private readonly TableClient _events = tables.Events;

    /// <summary>
    /// Appends events. Idempotent: an event that is already stored with the same content counts as written, so an
    /// activity that runs twice writes nothing twice. A different event under the same seq is a broken invariant.
    /// </summary>
    public async Task AppendAsync(string runId, IReadOnlyList<EventRecord> events, CancellationToken cancellationToken = default)
    {
        foreach (var chunk in events.Chunk(MaxBatch))
        {
            var entities = chunk.Select(e => ToEntity(runId, e)).ToList();
            try
            {
                await _events.SubmitTransactionAsync(
                    entities.Select(e => new TableTransactionAction(TableTransactionActionType.Add, e)), cancellationToken);
            }
            catch (TableTransactionFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
            {
                // Some of these were written by an earlier attempt: add the rest one by one, verifying the others.
                foreach (var entity in entities)
                {
                    await AddOrVerifyAsync(entity, cancellationToken);
                }
            }
        }
    }

    /// <summary>Events with seq greater than <paramref name="afterSeq"/>, ascending, at most <paramref name="limit"/>.</summary>
    public async Task<IReadOnlyList<EventEntity>> ReadAsync(
        string runId, long afterSeq, int limit, CancellationToken cancellationToken = default)
    {
        var after = EventEntity.RowKeyFor(afterSeq);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {runId} and RowKey gt {after}");
        var result = new List<EventEntity>(Math.Min(limit, 1000));
        await foreach (var entity in _events.QueryAsync<EventEntity>(filter, maxPerPage: Math.Min(limit, 1000), cancellationToken: cancellationToken))
        {
            result.Add(entity);
            if (result.Count >= limit)
            {
                break;
            }
        }

        return result;
    }

    private async Task AddOrVerifyAsync(EventEntity entity, CancellationToken cancellationToken)
    {
        try
        {
            await _events.AddEntityAsync(entity, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
        {
            var existing = (await _events.GetEntityAsync<EventEntity>(entity.PartitionKey, entity.RowKey, cancellationToken: cancellationToken)).Value;
            if (existing.Type != entity.Type || existing.ValueJson != entity.ValueJson || existing.Redacted != entity.Redacted)
            {
                throw new InvalidOperationException(
                    $"Run {entity.PartitionKey} already has a different event at seq {entity.RowKey}.", ex);
            }
        }
    }

    private static EventEntity ToEntity(string runId, EventRecord e) => new()
    {
        PartitionKey = runId,
        RowKey = EventEntity.RowKeyFor(e.Seq),
        Type = e.Type,
        OccurredAt = e.Timestamp,
        Redacted = e.Redacted,
        ValueJson = e.ValueJson,
    };
}
