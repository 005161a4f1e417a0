using System.Net;
using Azure;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Storage;

/// <summary>One event to deliver to one subscription, until it is delivered or given up.</summary>
/// <param name="MessageId">The <c>webhook-id</c>: one per event, the same on every attempt.</param>
/// <param name="Attempts">Attempts made so far.</param>
/// <param name="StoredKey">The row's key as stored (a row written before the event type was part of the key has the older form).</param>
public sealed record WebhookDelivery(
    string TenantId,
    string RunId,
    long Seq,
    string EventType,
    string WebhookId,
    string MessageId,
    DateTimeOffset CreatedAt,
    DateTimeOffset NextAttemptAt,
    int Attempts,
    ETag ETag = default,
    string? StoredKey = null)
{
    public string Key => StoredKey ?? WebhookOutboxIndex.RowKeyFor(MessageId, WebhookId, EventType);
}

/// <summary>
/// The webhook outbox: the deliveries that are due or will be (table WebhookOutbox, one partition, RowKey
/// <c>{message id}|{webhook id}|{event type}</c>), so the dispatcher reads only what is due and never scans delivered ones. A row
/// is written before the run's write that appends its event (a delivery is never lost), claimed by the one process that attempts
/// it (If-Match), rescheduled after a failure and deleted once delivered or given up.
/// <para>
/// The event type is part of the key because two writers can race for one seq with events of different types (a user's cancel
/// and the run's own end, an extension and a reminder): each records its delivery before its write, and the loser's record must
/// not replace the winner's (the dispatcher would then find the loser's type at that seq and drop it, and the winner's event would
/// never be delivered). With the type in the key each has its own row; the one whose event is not in the log is dropped.
/// </para>
/// </summary>
public sealed class WebhookOutboxIndex(RunTables tables)
{
    public const string Partition = "due";

    /// <summary>Entity-group transactions take at most 100 actions.</summary>
    private const int MaxBatch = 100;

    private readonly TableClient _table = tables.WebhookOutbox;

    public static string RowKeyFor(string messageId, string webhookId, string eventType) => $"{messageId}|{webhookId}|{eventType}";

    /// <summary>
    /// Writes deliveries (one request per 100); writing one again (the same event type at the same seq, for the same subscription:
    /// a write that is tried again) replaces it.
    /// </summary>
    public async Task AddAsync(IReadOnlyList<WebhookDelivery> deliveries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(deliveries);
        foreach (var chunk in deliveries.Chunk(MaxBatch))
        {
            var actions = chunk.Select(d => new TableTransactionAction(TableTransactionActionType.UpsertReplace, ToEntity(d))).ToList();
            await _table.SubmitTransactionAsync(actions, cancellationToken);
        }
    }

    public async Task<WebhookDelivery?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        var response = await _table.GetEntityIfExistsAsync<TableEntity>(Partition, key, cancellationToken: cancellationToken);
        return response.HasValue ? ToDelivery(response.Value!) : null;
    }

    /// <summary>Deliveries due at <paramref name="now"/>, at most <paramref name="max"/>.</summary>
    public async Task<IReadOnlyList<WebhookDelivery>> DueAsync(DateTimeOffset now, int max, CancellationToken cancellationToken = default)
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {Partition} and NextAttemptAt le {now}");
        var due = new List<WebhookDelivery>();
        await foreach (var e in _table.QueryAsync<TableEntity>(filter, maxPerPage: Math.Min(max, 1000), cancellationToken: cancellationToken))
        {
            due.Add(ToDelivery(e));
            if (due.Count >= max)
            {
                break;
            }
        }

        return due;
    }

    /// <summary>Every pending delivery of a tenant (tests and diagnostics; a scan of the outbox).</summary>
    public async Task<IReadOnlyList<WebhookDelivery>> PendingAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {Partition} and TenantId eq {tenantId}");
        var result = new List<WebhookDelivery>();
        await foreach (var e in _table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            result.Add(ToDelivery(e));
        }

        return result;
    }

    /// <summary>
    /// Takes a delivery for one attempt: moves its next attempt to <paramref name="leaseUntil"/> unless someone changed it since it
    /// was read. Null when another process has it (or it is gone). A process that dies mid-attempt leaves it due at the lease's end.
    /// </summary>
    public async Task<WebhookDelivery?> ClaimAsync(WebhookDelivery delivery, DateTimeOffset leaseUntil, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        var claimed = delivery with { NextAttemptAt = leaseUntil };
        try
        {
            var response = await _table.UpdateEntityAsync(ToEntity(claimed), delivery.ETag, TableUpdateMode.Replace, cancellationToken);
            return claimed with { ETag = response.Headers.ETag ?? default };
        }
        catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>Writes a claimed delivery's next attempt (after a failure, or a wait for its event). False if it changed meanwhile.</summary>
    public async Task<bool> RescheduleAsync(WebhookDelivery delivery, DateTimeOffset nextAttemptAt, int attempts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        try
        {
            await _table.UpdateEntityAsync(
                ToEntity(delivery with { NextAttemptAt = nextAttemptAt, Attempts = attempts }), delivery.ETag, TableUpdateMode.Replace, cancellationToken);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    /// <summary>Removes a delivery that was delivered, given up or dropped, unless it was written again meanwhile.</summary>
    public async Task RemoveAsync(WebhookDelivery delivery, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        try
        {
            await _table.DeleteEntityAsync(Partition, delivery.Key, delivery.ETag, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound)
        {
        }
    }

    private static TableEntity ToEntity(WebhookDelivery d) => new(Partition, d.Key)
    {
        ["TenantId"] = d.TenantId,
        ["RunId"] = d.RunId,
        ["Seq"] = d.Seq,
        ["EventType"] = d.EventType,
        ["WebhookId"] = d.WebhookId,
        ["MessageId"] = d.MessageId,
        ["CreatedAt"] = d.CreatedAt,
        ["NextAttemptAt"] = d.NextAttemptAt,
        ["Attempts"] = d.Attempts,
    };

    private static WebhookDelivery ToDelivery(TableEntity e) => new(
        e.GetString("TenantId"),
        e.GetString("RunId"),
        e.GetInt64("Seq") ?? 0,
        e.GetString("EventType"),
        e.GetString("WebhookId"),
        e.GetString("MessageId"),
        e.GetDateTimeOffset("CreatedAt") ?? DateTimeOffset.MinValue,
        e.GetDateTimeOffset("NextAttemptAt") ?? DateTimeOffset.MinValue,
        e.GetInt32("Attempts") ?? 0,
        e.ETag,
        e.RowKey);
}
