using System.Collections.Concurrent;
using AgentRuns.Functions.Storage;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Webhooks;

/// <summary>
/// The enabled subscriptions of each tenant, kept in memory for <see cref="WebhookOptions.SubscriptionCacheSeconds"/> so that the
/// run's write path reads them at most once per tenant in that time (and a tenant without subscriptions costs no request
/// otherwise). Changes made through this process are seen at once; other instances see them when their copy expires.
/// </summary>
public sealed class WebhookSubscriptionCache(WebhookSubscriptionStore store, IOptions<WebhookOptions> options, TimeProvider time)
{
    /// <summary>Past this many tenants the cache starts over (each costs one read again).</summary>
    private const int MaxTenants = 10_000;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>The tenant's enabled subscriptions, from memory while fresh.</summary>
    public async Task<IReadOnlyList<WebhookSubscription>> GetAsync(string tenantId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_entries.TryGetValue(tenantId, out var entry) && now - entry.ReadAt < TimeSpan.FromSeconds(options.Value.SubscriptionCacheSeconds))
        {
            return entry.Subscriptions;
        }

        var subscriptions = (await store.ListAsync(tenantId, cancellationToken)).Where(s => s.Enabled).ToList();
        if (_entries.Count >= MaxTenants)
        {
            _entries.Clear();
        }

        _entries[tenantId] = new Entry(now, subscriptions);
        return subscriptions;
    }

    /// <summary>What was last read for the tenant, however old (the write path's second half uses what its first half read).</summary>
    public IReadOnlyList<WebhookSubscription> Last(string tenantId) =>
        _entries.TryGetValue(tenantId, out var entry) ? entry.Subscriptions : [];

    /// <summary>Forgets the tenant's subscriptions: the next append reads them again.</summary>
    public void Invalidate(string tenantId) => _entries.TryRemove(tenantId, out _);

    private sealed record Entry(DateTimeOffset ReadAt, IReadOnlyList<WebhookSubscription> Subscriptions);
}
