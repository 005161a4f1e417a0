using AgentRuns.Functions.Model;
using AgentRuns.Functions.Runs;
using AgentRuns.Functions.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Webhooks;

/// <summary>A subscription request whose shape the HTTP layer has checked (its URL is checked here: that takes DNS).</summary>
public sealed record CreateWebhookRequest(string Url, IReadOnlyList<string> Events);

/// <summary>
/// What the API does with webhooks: every read and write is scoped by the caller's tenant, so another tenant's subscription
/// and its deliveries answer exactly as a missing one (404 webhook_not_found).
/// </summary>
public sealed partial class WebhookService(
    WebhookSubscriptionStore store,
    WebhookAttemptLog attempts,
    WebhookSubscriptionCache cache,
    WebhookUrlPolicy policy,
    IOptions<WebhookOptions> options,
    TimeProvider time,
    ILogger<WebhookService> logger)
{
    /// <param name="seed">Set for a request with an idempotency key: the id derives from it, so a retry that takes over from an
    /// attempt that died finds that attempt's subscription (and its secret) instead of making a second one.</param>
    public async Task<CreatedWebhookResource> CreateAsync(Caller caller, CreateWebhookRequest request, IdempotencySeed? seed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(request);
        var (url, refusal) = await policy.CheckAsync(request.Url, cancellationToken);
        if (url is null)
        {
            throw ApiException.InvalidWebhookUrl(refusal!);
        }

        var id = seed is null ? WebhookIds.New() : WebhookIds.FromSeed(seed.Id);
        if (seed is not null && await store.GetAsync(caller.TenantId, id, cancellationToken) is { } earlier)
        {
            return WebhookMapper.ToCreated(earlier); // the same request again, after an attempt that died before it could answer
        }

        var subscription = new WebhookSubscription(
            caller.TenantId, id, request.Url, request.Events, WebhookIds.NewSecret(), seed?.CreatedAt ?? time.GetUtcNow());

        // From here the client going away changes nothing: the subscription is made, and a retry with the key finds it.
        var max = options.Value.MaxPerTenant;
        switch (await store.AddAsync(subscription, max, CancellationToken.None))
        {
            case CountedAdd.LimitReached:
                throw ApiException.InvalidRequest($"A tenant has at most {max} webhooks; delete one first.");
            case CountedAdd.Exists:
                // Made by an earlier attempt of this request (its id derives from the key); deleted since, it stays deleted.
                subscription = await store.GetAsync(caller.TenantId, id, CancellationToken.None) ?? throw ApiException.WebhookNotFound(id);
                break;
        }

        cache.Invalidate(caller.TenantId);
        LogCreated(logger, id, caller.TenantId);
        return WebhookMapper.ToCreated(subscription);
    }

    public async Task<WebhookList> ListAsync(Caller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return new WebhookList("list", [.. (await store.ListAsync(caller.TenantId, cancellationToken)).Select(WebhookMapper.ToResource)]);
    }

    public async Task<WebhookResource> GetAsync(Caller caller, string id, CancellationToken cancellationToken) =>
        WebhookMapper.ToResource(await FindAsync(caller, id, cancellationToken));

    /// <summary>Deletes the subscription: nothing more is delivered to it (deliveries still queued are dropped when their turn comes).</summary>
    public async Task DeleteAsync(Caller caller, string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (!await store.DeleteAsync(caller.TenantId, id, cancellationToken))
        {
            throw ApiException.WebhookNotFound(id);
        }

        cache.Invalidate(caller.TenantId);
        LogDeleted(logger, id, caller.TenantId);
    }

    public async Task<WebhookAttemptList> ListDeliveriesAsync(Caller caller, string id, string? cursor, int limit, CancellationToken cancellationToken)
    {
        await FindAsync(caller, id, cancellationToken);
        var (page, next) = await attempts.ListAsync(caller.TenantId, id, cursor, limit, cancellationToken);
        return new WebhookAttemptList("list", [.. page.Select(WebhookMapper.ToResource)], next);
    }

    private async Task<WebhookSubscription> FindAsync(Caller caller, string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return await store.GetAsync(caller.TenantId, id, cancellationToken) ?? throw ApiException.WebhookNotFound(id);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook {WebhookId} created for tenant {TenantId}")]
    private static partial void LogCreated(ILogger logger, string webhookId, string tenantId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook {WebhookId} deleted for tenant {TenantId}")]
    private static partial void LogDeleted(ILogger logger, string webhookId, string tenantId);
}
