using AgentRuns.Functions.Webhooks;
using Microsoft.Azure.Functions.Worker;

namespace AgentRuns.Functions.Maintenance;

/// <summary>Every hour, deletes webhook delivery attempts past their retention and those of deleted subscriptions.</summary>
public sealed class PurgeWebhookAttempts(WebhookDispatcher dispatcher)
{
    [Function(nameof(PurgeWebhookAttempts))]
    public Task Run([TimerTrigger("0 23 * * * *")] TimerInfo timer, CancellationToken cancellationToken) =>
        dispatcher.PurgeAttemptsAsync(cancellationToken);
}
