using System.Globalization;
using System.Net;
using Azure;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Storage;

/// <summary>One event to deliver to one subscription, until it is delivered or given up.</summary>
/// <param name="MessageId">The <c>webhook-id</c>: one per event, the same on every attempt.</param>
/// <param name="Attempts">Attempts made so far.</param>
/// <param name="StoredKey">The row's key as stored (a row written before the event type was part of the key has the older form).</param>
/// <param name="ScheduledTicks">The due time (UTC ticks) of the schedule row that points at this delivery as it was read; null when
/// it has none (written by the version before schedule rows).</param>
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
    string? StoredKey = null,
    long? ScheduledTicks = null)
{
    public string Key => StoredKey ?? WebhookOutboxIndex.RowKeyFor(MessageId, WebhookId, EventType);
}

/// <summary>
/// The webhook outbox: the deliveries that are due or will be (table WebhookOutbox, one partition <c>due</c>), so the dispatcher
/// reads only what is due and never what is merely pending (a retry hours ahead, a broken receiver's backlog) or delivered.
/// A delivery is written before the run's write that appends its event (a delivery is never lost), claimed by the one process
/// that attempts it (If-Match), rescheduled after a failure and deleted once delivered or given up.
/// <para>
/// The partition holds three key ranges that cannot overlap (<c>m</c> &lt; <c>p</c> &lt; <c>t</c>):
/// <list type="bullet">
/// <item><c>p|{message id}|{webhook id}|{event type}</c>: the delivery itself (its key makes a retried outbox write replace the
/// same row, and it is what kicks name). It records the due time of its schedule row (<c>ScheduledTicks</c>) and the id of
/// the write that last changed it (<c>WriteId</c>).</item>
/// <item><c>t|{due time, UTC ticks, 19 digits}|p|…</c>: its schedule row. Every write of a delivery (add, claim,
/// reschedule, remove) writes its schedule row in the same entity-group transaction: deletes the one it had and inserts the
/// new one. Due deliveries are the key range <c>t|</c> .. <c>t|{now}</c>, so a pass costs what is due, whatever is pending.
/// A schedule row whose delivery is gone, or now has another due time, is stale and harmless: the reader re-checks the
/// delivery and deletes it (If-Match on the schedule row, so a row written again meanwhile stays). Each change is one
/// transaction, so a process that dies between two of them leaves no delivery without its schedule row.</item>
/// <item><c>msg_…</c>: rows of the version before schedule rows (the delivery's key without <c>p|</c>, no schedule row). While
/// instances of that version still run they keep writing them; each pass moves them (<see cref="MoveLegacyAsync"/>), so once
/// none is left the range costs one query that finds nothing.</item>
/// </list>
/// </para>
/// <para>
/// A write's batch can fail although its own effect landed (the storage client sent it again after a lost response: the
/// second try finds its own ETag moved), or because the schedule row it deletes is gone already (404 fails the whole batch).
/// The delivery decides: its <c>WriteId</c> tells a write that landed from another process's write, and an unchanged
/// ETag means only the schedule row was missing, so the write is sent again without that delete.
/// </para>
/// <para>
/// The event type is part of the key because two writers can race for one seq with events of different types (a user's cancel
/// and the run's own end, an extension and a reminder): each records its delivery before its write, and the loser's record must
/// not replace the winner's (the dispatcher would then find the loser's type at that seq and drop it, and the winner's event would
/// never be delivered). With the type in the key each has its own row; the one whose event is not in the log is dropped.
/// </para>
/// <para>
/// The previous version, while it still runs beside this one (a deployment) or after a rollback, reads due deliveries by
/// scanning for <c>NextAttemptAt</c> (schedule rows have no such property, so it never takes one for a delivery) and writes
/// deliveries whole without <c>ScheduledTicks</c>. Such a delivery still has the schedule row this version last wrote, due no
/// later than the delivery (that version touches a delivery only once it is due): the reader finds it, sees the delivery has
/// no schedule of its own, and adopts the row (takes the delivery if due, else schedules it at its time).
/// </para>
/// </summary>
public sealed class WebhookOutboxIndex(RunTables tables)
{
    public const string Partition = "due";

    /// <summary>Keys of deliveries start with this.</summary>
    public const string DeliveryPrefix = "p|";

    /// <summary>Keys of schedule rows start with this.</summary>
    public const string SchedulePrefix = "t|";

    /// <summary>Entity-group transactions take at most 100 actions: 50 deliveries with their schedule rows.</summary>
    private const int MaxBatch = 50;

    /// <summary>Deliveries read or moved at once.</summary>
    private const int Concurrency = 16;

    private readonly TableClient _table = tables.WebhookOutbox;

    public static string RowKeyFor(string messageId, string webhookId, string eventType) => $"{DeliveryPrefix}{messageId}|{webhookId}|{eventType}";

    /// <summary>The key of the schedule row that makes the delivery with key <paramref name="deliveryKey"/> due at <paramref name="ticks"/>.</summary>
    public static string ScheduleKeyFor(long ticks, string deliveryKey) =>
        SchedulePrefix + ticks.ToString("D19", CultureInfo.InvariantCulture) + "|" + deliveryKey;

    /// <summary>
    /// Writes deliveries with their schedule rows (one request per 50); writing one again (the same event type at the same seq, for
    /// the same subscription: a write that is tried again) replaces it, due at its new time.
    /// </summary>
    public async Task AddAsync(IReadOnlyList<WebhookDelivery> deliveries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(deliveries);
        foreach (var chunk in deliveries.Chunk(MaxBatch))
        {
            var actions = new List<TableTransactionAction>(chunk.Length * 2);
            foreach (var d in chunk)
            {
                RequireDeliveryKey(d.Key);
                var ticks = d.NextAttemptAt.UtcTicks;
                actions.Add(new(TableTransactionActionType.UpsertReplace, ToEntity(d with { ScheduledTicks = ticks }, NewWriteId())));
                actions.Add(new(TableTransactionActionType.UpsertReplace, ScheduleRow(ticks, d.Key)));
            }

            await _table.SubmitTransactionAsync(actions, cancellationToken);
        }
    }

    public async Task<WebhookDelivery?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        var response = await _table.GetEntityIfExistsAsync<TableEntity>(Partition, key, cancellationToken: cancellationToken);
        return response.HasValue ? ToDelivery(response.Value!) : null;
    }

    /// <summary>
    /// Deliveries due at <paramref name="now"/>, at most <paramref name="max"/>, soonest first: one range query of the schedule rows
    /// due, then a read of each one's delivery. Stale schedule rows met on the way are deleted.
    /// </summary>
    public async Task<IReadOnlyList<WebhookDelivery>> DueAsync(DateTimeOffset now, int max, CancellationToken cancellationToken = default)
    {
        var end = SchedulePrefix + (now.UtcTicks + 1).ToString("D19", CultureInfo.InvariantCulture);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {Partition} and RowKey ge {SchedulePrefix} and RowKey lt {end}");
        var rows = new List<(string RowKey, long Ticks, string DeliveryKey, ETag ETag)>();
        await foreach (var e in _table.QueryAsync<TableEntity>(filter, maxPerPage: Math.Min(max, 1000), cancellationToken: cancellationToken))
        {
            var ticks = long.Parse(e.RowKey.AsSpan(SchedulePrefix.Length, 19), NumberStyles.None, CultureInfo.InvariantCulture);
            rows.Add((e.RowKey, ticks, e.RowKey[(SchedulePrefix.Length + 20)..], e.ETag));
            if (rows.Count >= max)
            {
                break;
            }
        }

        var found = new WebhookDelivery?[rows.Count];
        await Parallel.ForEachAsync(
            Enumerable.Range(0, rows.Count),
            new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                var (rowKey, ticks, key, etag) = rows[i];
                try
                {
                    var delivery = await GetAsync(key, ct);
                    if (delivery?.ScheduledTicks == ticks)
                    {
                        found[i] = delivery;
                    }
                    else if (delivery is { ScheduledTicks: null })
                    {
                        // Written by the previous version since this row was written: the row is its schedule, due no later than it.
                        var adopted = delivery with { ScheduledTicks = ticks };
                        if (delivery.NextAttemptAt <= now)
                        {
                            found[i] = adopted;
                        }
                        else
                        {
                            await WriteAsync(adopted, adopted, ct);
                        }
                    }
                    else
                    {
                        await DeleteStaleAsync(rowKey, etag, ct);
                    }
                }
#pragma warning disable CA1031 // One delivery's read must not stop the pass: its schedule row stays, so it is due again next pass.
                catch (Exception) when (!ct.IsCancellationRequested)
#pragma warning restore CA1031
                {
                }
            });

        return [.. found.OfType<WebhookDelivery>().DistinctBy(d => d.Key, StringComparer.Ordinal)];
    }

    /// <summary>
    /// Moves rows written by the previous version (no schedule row, key without <see cref="DeliveryPrefix"/>) into this form, at
    /// most <paramref name="max"/>, each in one transaction (the old row deleted If-Match, so a row that version changed meanwhile
    /// waits for the next pass). Returns how many were moved. When none are left this is one query that finds nothing.
    /// </summary>
    public async Task<int> MoveLegacyAsync(int max, CancellationToken cancellationToken = default)
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {Partition} and RowKey lt {DeliveryPrefix}");
        var legacy = new List<TableEntity>();
        await foreach (var e in _table.QueryAsync<TableEntity>(filter, maxPerPage: Math.Min(max, 1000), cancellationToken: cancellationToken))
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
                var d = ToDelivery(old) with { StoredKey = DeliveryPrefix + old.RowKey, ScheduledTicks = null };
                var ticks = d.NextAttemptAt.UtcTicks;
                TableTransactionAction[] actions =
                [
                    new(TableTransactionActionType.Add, ToEntity(d with { ScheduledTicks = ticks }, NewWriteId())),
                    new(TableTransactionActionType.UpsertReplace, ScheduleRow(ticks, d.Key)),
                    new(TableTransactionActionType.Delete, new TableEntity(Partition, old.RowKey), old.ETag),
                ];
                try
                {
                    await _table.SubmitTransactionAsync(actions, ct);
                    Interlocked.Increment(ref moved);
                }
                catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
                {
                    // The delivery exists in this form already (this version wrote the same event's delivery, or an earlier move
                    // landed and its response was lost): the old row is a duplicate.
                    await DeleteStaleAsync(old.RowKey, old.ETag, ct);
                }
                catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound)
                {
                    // The previous version changed or removed it meanwhile: the next pass looks again.
                }
#pragma warning disable CA1031 // One row's move must not stop the pass: the row stays as it was and the next pass moves it.
                catch (Exception) when (!ct.IsCancellationRequested)
#pragma warning restore CA1031
                {
                }
            });

        return moved;
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
        return await WriteAsync(delivery, claimed, cancellationToken) is { } etag
            ? claimed with { ETag = etag, ScheduledTicks = leaseUntil.UtcTicks }
            : null;
    }

    /// <summary>Writes a claimed delivery's next attempt (after a failure, or a wait for its event). False if it changed meanwhile.</summary>
    public async Task<bool> RescheduleAsync(WebhookDelivery delivery, DateTimeOffset nextAttemptAt, int attempts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        return await WriteAsync(delivery, delivery with { NextAttemptAt = nextAttemptAt, Attempts = attempts }, cancellationToken) is not null;
    }

    /// <summary>Removes a delivery that was delivered, given up or dropped, with its schedule row, unless it was written again meanwhile.</summary>
    public async Task RemoveAsync(WebhookDelivery delivery, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        var key = delivery.Key;
        var deleteSchedule = delivery.ScheduledTicks is not null;
        while (true)
        {
            var actions = new List<TableTransactionAction> { new(TableTransactionActionType.Delete, new TableEntity(Partition, key), delivery.ETag) };
            if (deleteSchedule)
            {
                actions.Add(new(TableTransactionActionType.Delete, new TableEntity(Partition, ScheduleKeyFor(delivery.ScheduledTicks!.Value, key)), ETag.All));
            }

            try
            {
                await _table.SubmitTransactionAsync(actions, cancellationToken);
                return;
            }
            catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound)
            {
                // Gone (removed by another process, or by this batch's first try), changed meanwhile (leave it), or still as read
                // and only its schedule row was gone: then remove the delivery alone.
                var now = await _table.GetEntityIfExistsAsync<TableEntity>(Partition, key, select: ["RowKey"], cancellationToken: cancellationToken);
                if (!deleteSchedule || !now.HasValue || now.Value!.ETag != delivery.ETag)
                {
                    return;
                }

                deleteSchedule = false;
            }
        }
    }

    /// <summary>
    /// Replaces <paramref name="current"/> (If-Match its ETag) with <paramref name="next"/> and moves its schedule row to
    /// <paramref name="next"/>'s due time, in one transaction. The new ETag, or null when the delivery was changed or removed meanwhile.
    /// </summary>
    private async Task<ETag?> WriteAsync(WebhookDelivery current, WebhookDelivery next, CancellationToken cancellationToken)
    {
        var key = current.Key;
        if (!key.StartsWith(DeliveryPrefix, StringComparison.Ordinal))
        {
            return null; // a row of the previous version: the next pass moves it into this form first
        }

        var ticks = next.NextAttemptAt.UtcTicks;
        var writeId = NewWriteId();
        return await ScheduledRowWrite.ReplaceAsync(
            _table, ToEntity(next with { ScheduledTicks = ticks }, writeId), current.ETag, writeId, ScheduleKeyFor(ticks, key),
            current.ScheduledTicks is { } old ? ScheduleKeyFor(old, key) : null, cancellationToken);
    }

    private Task DeleteStaleAsync(string rowKey, ETag etag, CancellationToken cancellationToken) =>
        ScheduledRowWrite.DeleteQuietlyAsync(_table, Partition, rowKey, etag, cancellationToken);

    private static void RequireDeliveryKey(string key)
    {
        if (!key.StartsWith(DeliveryPrefix, StringComparison.Ordinal))
        {
            throw new ArgumentException($"A delivery's key starts with '{DeliveryPrefix}': {key}", nameof(key));
        }
    }

    private static string NewWriteId() => ScheduledRowWrite.NewWriteId();

    private static TableEntity ScheduleRow(long ticks, string deliveryKey) => new(Partition, ScheduleKeyFor(ticks, deliveryKey));

    private static TableEntity ToEntity(WebhookDelivery d, string writeId) => new(Partition, d.Key)
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
        ["ScheduledTicks"] = d.ScheduledTicks,
        ["WriteId"] = writeId,
    };

    private static WebhookDelivery ToDelivery(TableEntity e) => new(
        e.GetString("TenantId"),
        e.GetString("RunId"),
        e.GetInt64("Seq") ?? 0,
        e.GetString("EventType"),
        e.GetString("WebhookId"),
        e.GetString("MessageId"),
        e.GetDateTimeOffset("CreatedAt") ?? DateTimeOffset.UnixEpoch, // never before 1601, which the Table service refuses to store
        e.GetDateTimeOffset("NextAttemptAt") ?? DateTimeOffset.UnixEpoch,
        e.GetInt32("Attempts") ?? 0,
        e.ETag,
        e.RowKey,
        e.GetInt64("ScheduledTicks"));
}
