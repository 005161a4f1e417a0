using System.Globalization;
using System.Text.RegularExpressions;
using Azure;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Storage;

/// <summary>The outcomes of a delivery attempt, as <c>GET /v1/webhooks/{id}/deliveries</c> shows them.</summary>
public static class WebhookOutcomes
{
    /// <summary>The receiver answered 2xx.</summary>
    public const string Delivered = "delivered";

    /// <summary>The attempt failed; <c>next_attempt_at</c> says when the next one is.</summary>
    public const string Retrying = "retrying";

    /// <summary>The attempt failed and it was the last of the schedule: the delivery was given up.</summary>
    public const string Failed = "failed";

    /// <summary>The receiver answered 410 Gone: the subscription was disabled and gets nothing more.</summary>
    public const string Disabled = "disabled";
}

/// <summary>One attempt to deliver a message to a subscription.</summary>
public sealed record WebhookAttempt(
    string MessageId,
    string EventType,
    string RunId,
    long Seq,
    int Attempt,
    string Outcome,
    int? StatusCode,
    string? Error,
    DateTimeOffset At,
    DateTimeOffset? NextAttemptAt,
    long DurationMilliseconds);

/// <summary>
/// The delivery attempts of every subscription (table WebhookAttempts): partition <c>{tenant}|{webhook id}</c>, so a read names
/// the tenant; RowKey the attempt's inverted time (and a random suffix), so a partition lists newest first and pages by RowKey.
/// Attempts older than <c>Webhooks:AttemptRetentionDays</c> are purged hourly; so are those of deleted subscriptions.
/// </summary>
public sealed partial class WebhookAttemptLog(RunTables tables)
{
    private const int MaxBatch = 100;
    private readonly TableClient _table = tables.WebhookAttempts;

    public static string PartitionFor(string tenantId, string webhookId) => $"{tenantId}|{webhookId}";

    /// <summary>True for a cursor this log handed out (a RowKey).</summary>
    public static bool IsCursor(string cursor) => CursorShape().IsMatch(cursor);

    /// <summary>
    /// Records an attempt. Its key is new (the attempt's time and a random suffix), so a conflict can only be this record's own
    /// first try, which landed while its response was lost: it is recorded. (Thrown, it would leave a delivered message due
    /// again when its claim lapsed: sent a second time, and listed twice.)
    /// </summary>
    public async Task RecordAsync(string tenantId, string webhookId, WebhookAttempt attempt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        var inverted = (DateTimeOffset.MaxValue.UtcTicks - attempt.At.UtcTicks).ToString("D19", CultureInfo.InvariantCulture);
        var entity = new TableEntity(PartitionFor(tenantId, webhookId), inverted + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4)))
        {
            ["MessageId"] = attempt.MessageId,
            ["EventType"] = attempt.EventType,
            ["RunId"] = attempt.RunId,
            ["Seq"] = attempt.Seq,
            ["Attempt"] = attempt.Attempt,
            ["Outcome"] = attempt.Outcome,
            ["StatusCode"] = attempt.StatusCode,
            ["Error"] = attempt.Error,
            ["At"] = attempt.At,
            ["NextAttemptAt"] = attempt.NextAttemptAt,
            ["DurationMs"] = attempt.DurationMilliseconds,
        };
        try
        {
            await _table.AddEntityAsync(entity, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == (int)System.Net.HttpStatusCode.Conflict)
        {
        }
    }

    /// <summary>A subscription's attempts, newest first, after <paramref name="cursor"/>; with the next cursor if there are more.</summary>
    public async Task<(IReadOnlyList<WebhookAttempt> Attempts, string? NextCursor)> ListAsync(
        string tenantId, string webhookId, string? cursor, int limit, CancellationToken cancellationToken = default)
    {
        var partition = PartitionFor(tenantId, webhookId);
        var filter = cursor is null
            ? TableClient.CreateQueryFilter($"PartitionKey eq {partition}")
            : TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey gt {cursor}");
        var page = new List<(string RowKey, WebhookAttempt Attempt)>(limit + 1);
        await foreach (var e in _table.QueryAsync<TableEntity>(filter, maxPerPage: Math.Min(limit + 1, 1000), cancellationToken: cancellationToken))
        {
            page.Add((e.RowKey, ToAttempt(e)));
            if (page.Count > limit)
            {
                break;
            }
        }

        if (page.Count > limit)
        {
            page.RemoveAt(limit);
            return ([.. page.Select(p => p.Attempt)], page[^1].RowKey);
        }

        return ([.. page.Select(p => p.Attempt)], null);
    }

    /// <summary>
    /// Deletes the attempts made before <paramref name="before"/>, and those of subscriptions that no longer exist: the partitions
    /// not in <paramref name="livePartitions"/>, read at <paramref name="liveAt"/> (only attempts older than that: a subscription
    /// made later has none). One scan of the table, streamed; returns how many were deleted.
    /// </summary>
    public async Task<int> PurgeAsync(
        DateTimeOffset before, IReadOnlySet<string> livePartitions, DateTimeOffset liveAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(livePartitions);
        var deleted = 0;
        var batch = new List<TableEntity>(MaxBatch);
        await foreach (var e in _table.QueryAsync<TableEntity>(select: ["PartitionKey", "RowKey", "At"], cancellationToken: cancellationToken))
        {
            var at = e.GetDateTimeOffset("At") ?? DateTimeOffset.MinValue;
            if (at >= before && (livePartitions.Contains(e.PartitionKey) || at >= liveAt))
            {
                continue;
            }

            if (batch.Count == MaxBatch || (batch.Count > 0 && batch[0].PartitionKey != e.PartitionKey))
            {
                deleted += await DeleteAsync(batch, cancellationToken);
            }

            batch.Add(e);
        }

        return deleted + await DeleteAsync(batch, cancellationToken);
    }

    private async Task<int> DeleteAsync(List<TableEntity> batch, CancellationToken cancellationToken)
    {
        var count = batch.Count;
        if (count > 0)
        {
            await _table.SubmitTransactionAsync(batch.Select(e => new TableTransactionAction(TableTransactionActionType.Delete, e, ETag.All)), cancellationToken);
            batch.Clear();
        }

        return count;
    }

    private static WebhookAttempt ToAttempt(TableEntity e) => new(
        e.GetString("MessageId"),
        e.GetString("EventType"),
        e.GetString("RunId"),
        e.GetInt64("Seq") ?? 0,
        e.GetInt32("Attempt") ?? 0,
        e.GetString("Outcome"),
        e.GetInt32("StatusCode"),
        e.GetString("Error"),
        e.GetDateTimeOffset("At") ?? DateTimeOffset.MinValue,
        e.GetDateTimeOffset("NextAttemptAt"),
        e.GetInt64("DurationMs") ?? 0);

    [GeneratedRegex("^[0-9]{19}[0-9a-f]{8}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex CursorShape();
}
