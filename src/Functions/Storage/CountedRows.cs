using System.Net;
using Azure;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Storage;

/// <summary>What became of <see cref="CountedRows.AddAsync"/>.</summary>
public enum CountedAdd
{
    Added,

    /// <summary>A row with its key exists: nothing was written.</summary>
    Exists,

    /// <summary>The partition holds its limit: nothing was written.</summary>
    LimitReached,
}

/// <summary>
/// A table whose partitions (one per tenant) hold a bounded number of rows. The count is a row of the partition itself, and
/// every add or delete changes it in the same entity-group transaction, If-Match on the count: of two adds that saw the
/// same count one lands and the other counts again, so concurrent creates cannot pass the limit. A partition written before
/// the count existed is counted once, by the first add or delete that finds no count row.
/// </summary>
public sealed class CountedRows(TableClient table)
{
    /// <summary>The count's RowKey: '!' is in no worker name and no webhook id, and sorts before both.</summary>
    public const string CountKey = "!count";

    /// <summary>More tries than this means the partition is rewritten in a loop: fail rather than spin.</summary>
    private const int MaxAttempts = 32;

    /// <summary>Whether a row of the table is a counted one (lists and scans skip the count).</summary>
    public static bool IsCounted(TableEntity entity)
    {
        ArgumentNullException.ThrowIfNull(entity);
        return !string.Equals(entity.RowKey, CountKey, StringComparison.Ordinal);
    }

    public async Task<CountedAdd> AddAsync(TableEntity entity, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entity);
        for (var attempt = 1; ; attempt++)
        {
            var (count, etag) = await ReadCountAsync(entity.PartitionKey, cancellationToken);
            if (count >= limit)
            {
                return await ExistsAsync(entity.PartitionKey, entity.RowKey, cancellationToken) ? CountedAdd.Exists : CountedAdd.LimitReached;
            }

            try
            {
                await table.SubmitTransactionAsync(
                    [new TableTransactionAction(TableTransactionActionType.Add, entity), CountAction(entity.PartitionKey, count + 1, etag)], cancellationToken);
                return CountedAdd.Added;
            }
            catch (TableTransactionFailedException ex) when (ex.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed)
            {
                // The row exists (a retried add whose first try landed finds its own row here too), or the count moved.
                if (await ExistsAsync(entity.PartitionKey, entity.RowKey, cancellationToken))
                {
                    return CountedAdd.Exists;
                }

                if (attempt >= MaxAttempts)
                {
                    throw;
                }
            }
        }
    }

    /// <summary>
    /// Deletes the row. False when there was none when the delete began; true when it is gone, also when it went while this
    /// delete was at it (its own first try that landed while its response was lost, or another delete of the same row: either
    /// way the row this caller asked to delete is deleted, and answering "there was none" would tell it otherwise).
    /// </summary>
    public async Task<bool> DeleteAsync(string partitionKey, string rowKey, CancellationToken cancellationToken = default)
    {
        if (rowKey == CountKey)
        {
            return false;
        }

        for (var attempt = 1; ; attempt++)
        {
            if (!await ExistsAsync(partitionKey, rowKey, cancellationToken))
            {
                return attempt > 1;
            }

            var (count, etag) = await ReadCountAsync(partitionKey, cancellationToken);
            try
            {
                await table.SubmitTransactionAsync(
                    [
                        new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(partitionKey, rowKey), ETag.All),
                        CountAction(partitionKey, Math.Max(0, count - 1), etag),
                    ],
                    cancellationToken);
                return true;
            }
            catch (TableTransactionFailedException ex) when (ex.Status is (int)HttpStatusCode.NotFound or (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed)
            {
                // Deleted meanwhile (by someone else, or by this delete's first try whose response was lost), or the count
                // moved: look again.
                if (attempt >= MaxAttempts)
                {
                    throw;
                }
            }
        }
    }

    /// <summary>The partition's count and its ETag; counted from the rows (ETag null) when no count row exists yet.</summary>
    private async Task<(int Count, ETag? ETag)> ReadCountAsync(string partitionKey, CancellationToken cancellationToken)
    {
        var row = await table.GetEntityIfExistsAsync<TableEntity>(partitionKey, CountKey, select: ["Count"], cancellationToken: cancellationToken);
        if (row.HasValue)
        {
            return (row.Value!.GetInt32("Count") ?? 0, row.Value.ETag);
        }

        var count = 0;
        await foreach (var entity in table.QueryAsync<TableEntity>(
            TableClient.CreateQueryFilter($"PartitionKey eq {partitionKey}"), select: ["RowKey"], cancellationToken: cancellationToken))
        {
            count += IsCounted(entity) ? 1 : 0;
        }

        return (count, null);
    }

    private static TableTransactionAction CountAction(string partitionKey, int count, ETag? etag)
    {
        var row = new TableEntity(partitionKey, CountKey) { ["Count"] = count };
        return etag is { } match
            ? new TableTransactionAction(TableTransactionActionType.UpdateReplace, row, match)
            : new TableTransactionAction(TableTransactionActionType.Add, row);
    }

    private async Task<bool> ExistsAsync(string partitionKey, string rowKey, CancellationToken cancellationToken) =>
        (await table.GetEntityIfExistsAsync<TableEntity>(partitionKey, rowKey, select: ["RowKey"], cancellationToken: cancellationToken)).HasValue;
}
