using AgentRuns.Functions.Runs;
using AgentRuns.Functions.Storage;

namespace AgentRuns.Functions.Webhooks;

/// <summary>
/// The run's events leave as webhooks through here (<see cref="IEventOutbox"/>): before the run's write, one delivery per
/// (event, subscription that wants it) is written to the outbox (<see cref="WebhookOutboxIndex"/>): one batch request, and none
/// at all when no appended event is a webhook event or the tenant has no subscription for it. After the write the deliveries
/// are handed to <see cref="WebhookKicks"/> and attempted in the background at once; the run never waits for a receiver.
/// </summary>
public sealed class WebhookOutbox(WebhookSubscriptionCache subscriptions, WebhookOutboxIndex outbox, WebhookKicks kicks, TimeProvider time)
    : IEventOutbox
{
    public async Task BeforeAppendAsync(string tenantId, string runId, IReadOnlyList<RunEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (!events.Any(e => WebhookEvents.IsSupported(e.Type)))
        {
            return;
        }

        var deliveries = Plan(tenantId, runId, events, await subscriptions.GetAsync(tenantId, cancellationToken), time.GetUtcNow());
        if (deliveries.Count > 0)
        {
            await outbox.AddAsync(deliveries, cancellationToken);
        }
    }

    public void AfterAppend(string tenantId, string runId, IReadOnlyList<RunEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (!events.Any(e => WebhookEvents.IsSupported(e.Type)))
        {
            return;
        }

        foreach (var delivery in Plan(tenantId, runId, events, subscriptions.Last(tenantId), time.GetUtcNow()))
        {
            kicks.Kick(delivery.Key);
        }
    }

    /// <summary>The deliveries that <paramref name="events"/> make for <paramref name="subscriptions"/>: one per event and subscription that wants it.</summary>
    public static IReadOnlyList<WebhookDelivery> Plan(
        string tenantId, string runId, IReadOnlyList<RunEvent> events, IReadOnlyList<WebhookSubscription> subscriptions, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(subscriptions);
        return
        [
            .. from e in events
               where WebhookEvents.IsSupported(e.Type)
               from s in subscriptions
               where s.Enabled && s.Wants(e.Type)
               select new WebhookDelivery(tenantId, runId, e.Seq, e.Type, s.Id, WebhookIds.Message(runId, e.Seq), now, now, 0),
        ];
    }
}
