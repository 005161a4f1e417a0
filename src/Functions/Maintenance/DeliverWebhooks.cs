using AgentRuns.Functions.Webhooks;
using Microsoft.Azure.Functions.Worker;

namespace AgentRuns.Functions.Maintenance;

/// <summary>
/// Runs a webhook delivery pass every minute (<see cref="WebhookDispatcher"/>): retries that are due, and deliveries whose
/// immediate attempt never happened (the instance that wrote them stopped). Two key-range queries when nothing is due (the outbox's
/// schedule rows due by now, and rows of the previous version still to move), whatever the number of deliveries pending later.
/// </summary>
public sealed class DeliverWebhooks(WebhookDispatcher dispatcher)
{
    [Function(nameof(DeliverWebhooks))]
    public Task Run([TimerTrigger("15 * * * * *")] TimerInfo timer, CancellationToken cancellationToken) =>
        dispatcher.RunOnceAsync(cancellationToken);
}
