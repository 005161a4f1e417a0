using System.Net;
using Azure;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Storage;

/// <summary>A tenant's webhook subscription as stored, its signing secret included (the API shows the secret once).</summary>
public sealed record WebhookSubscription(
    string TenantId,
    string Id,
    string Url,
    IReadOnlyList<string> Events,
    string Secret,
    DateTimeOffset CreatedAt,
    DateTimeOffset? DisabledAt = null,
    string? DisabledReason = null)
{
    public bool Enabled => DisabledAt is null;

    public bool Wants(string eventType) => Events.Contains(eventType, StringComparer.Ordinal);
}

/// <summary>
/// The Webhooks table: one partition per tenant, RowKey the subscription id, and the tenant's count of subscriptions beside
/// them (<see cref="CountedRows"/>). Every read names the tenant, so another tenant's subscription is never found.
/// </summary>
public sealed class WebhookSubscriptionStore(RunTables tables)
{
    private readonly TableClient _table = tables.Webhooks;
    private readonly CountedRows _rows = new(tables.Webhooks);

    /// <summary>Adds a subscription unless one with its id exists (a retried create) or the tenant already has <paramref name="limit"/>.</summary>
    public Task<CountedAdd> AddAsync(WebhookSubscription subscription, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        return _rows.AddAsync(ToEntity(subscription), limit, cancellationToken);
    }

    public async Task<WebhookSubscription?> GetAsync(string tenantId, string id, CancellationToken cancellationToken = default)
    {
        if (id == CountedRows.CountKey)
        {
            return null;
        }

        var response = await _table.GetEntityIfExistsAsync<TableEntity>(tenantId, id, cancellationToken: cancellationToken);
        return response.HasValue ? ToSubscription(response.Value!) : null;
    }

    /// <summary>The tenant's subscriptions, oldest first.</summary>
    public async Task<IReadOnlyList<WebhookSubscription>> ListAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var result = new List<WebhookSubscription>();
        await foreach (var entity in _table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {tenantId}"), cancellationToken: cancellationToken))
        {
            if (CountedRows.IsCounted(entity))
            {
                result.Add(ToSubscription(entity));
            }
        }

        return [.. result.OrderBy(s => s.CreatedAt).ThenBy(s => s.Id, StringComparer.Ordinal)];
    }

    /// <summary>The partition of every subscription's attempts (<see cref="WebhookAttemptLog.PartitionFor"/>), of all tenants: a scan of the keys.</summary>
    public async Task<IReadOnlySet<string>> AllAttemptPartitionsAsync(CancellationToken cancellationToken = default)
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var entity in _table.QueryAsync<TableEntity>(select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken))
        {
            if (CountedRows.IsCounted(entity))
            {
                result.Add(WebhookAttemptLog.PartitionFor(entity.PartitionKey, entity.RowKey));
            }
        }

        return result;
    }

    /// <summary>Deletes a subscription. False when the tenant has none with that id.</summary>
    public Task<bool> DeleteAsync(string tenantId, string id, CancellationToken cancellationToken = default) =>
        _rows.DeleteAsync(tenantId, id, cancellationToken);

    /// <summary>Marks a subscription disabled (the receiver answered 410 Gone). Does nothing to one that was deleted meanwhile.</summary>
    public async Task DisableAsync(string tenantId, string id, DateTimeOffset at, string reason, CancellationToken cancellationToken = default)
    {
        try
        {
            await _table.UpdateEntityAsync(
                new TableEntity(tenantId, id) { ["DisabledAt"] = at, ["DisabledReason"] = reason }, ETag.All, TableUpdateMode.Merge, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.NotFound)
        {
        }
    }

    private static TableEntity ToEntity(WebhookSubscription s) => new(s.TenantId, s.Id)
    {
        ["Url"] = s.Url,
        ["Events"] = string.Join(",", s.Events),
        ["Secret"] = s.Secret,
        ["CreatedAt"] = s.CreatedAt,
        ["DisabledAt"] = s.DisabledAt,
        ["DisabledReason"] = s.DisabledReason,
    };

    private static WebhookSubscription ToSubscription(TableEntity e) => new(
        e.PartitionKey,
        e.RowKey,
        e.GetString("Url"),
        [.. (e.GetString("Events") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)],
        e.GetString("Secret"),
        e.GetDateTimeOffset("CreatedAt") ?? DateTimeOffset.MinValue,
        e.GetDateTimeOffset("DisabledAt"),
        e.GetString("DisabledReason"));
}
