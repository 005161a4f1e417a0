using System.Net;
using Azure;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Storage;

/// <summary>
/// The one write of an index whose items each have a schedule row in the same partition (<see cref="OpenRunIndex"/>,
/// <see cref="WebhookOutboxIndex"/>): the item replaced If-Match and its schedule row moved, in one entity-group transaction.
/// A try whose response was lost (the storage client sent it again and got 412 or 404) is recognised by the item's
/// <c>WriteId</c>; a try that failed only because the old schedule row was gone already is sent again without that delete.
/// </summary>
internal static class ScheduledRowWrite
{
    public static string NewWriteId() => Guid.NewGuid().ToString("N");

    /// <summary>
    /// Replaces the item (<paramref name="next"/>, carrying <paramref name="writeId"/>) if it is still at <paramref name="currentETag"/>,
    /// upserts <paramref name="scheduleKey"/> and deletes <paramref name="oldScheduleKey"/> (when given). The new ETag, or null
    /// when the item was changed or removed meanwhile.
    /// </summary>
    public static async Task<ETag?> ReplaceAsync(
        TableClient table, TableEntity next, ETag currentETag, string writeId, string scheduleKey, string? oldScheduleKey, CancellationToken cancellationToken)
    {
        var deleteOld = oldScheduleKey is not null && oldScheduleKey != scheduleKey;
        while (true)
        {
            var actions = new List<TableTransactionAction>
            {
                new(TableTransactionActionType.UpdateReplace, next, currentETag),
                new(TableTransactionActionType.UpsertReplace, new TableEntity(next.PartitionKey, scheduleKey)),
            };
            if (deleteOld)
            {
                actions.Add(new(TableTransactionActionType.Delete, new TableEntity(next.PartitionKey, oldScheduleKey), ETag.All));
            }

            try
            {
                var response = await table.SubmitTransactionAsync(actions, cancellationToken);
                if (response.Value[0].Headers.ETag is { } etag)
                {
                    return etag;
                }
            }
            catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound)
            {
                // Decided below from the item as it is now.
            }

            var now = await table.GetEntityIfExistsAsync<TableEntity>(next.PartitionKey, next.RowKey, select: ["RowKey", "WriteId"], cancellationToken: cancellationToken);
            if (!now.HasValue)
            {
                return null;
            }

            if (string.Equals(now.Value!.GetString("WriteId"), writeId, StringComparison.Ordinal))
            {
                return now.Value.ETag; // this write landed; its response was lost
            }

            if (now.Value.ETag != currentETag || !deleteOld)
            {
                return null;
            }

            deleteOld = false; // unchanged: only the old schedule row was gone already
        }
    }

    /// <summary>Deletes a row If-Match <paramref name="etag"/>; one changed or gone meanwhile is left as it is.</summary>
    public static async Task DeleteQuietlyAsync(TableClient table, string partition, string rowKey, ETag etag, CancellationToken cancellationToken)
    {
        try
        {
            await table.DeleteEntityAsync(partition, rowKey, etag, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound)
        {
        }
    }
}
