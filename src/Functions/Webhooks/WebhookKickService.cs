using Microsoft.Extensions.Hosting;

namespace AgentRuns.Functions.Webhooks;

/// <summary>Attempts kicked deliveries in the background for as long as the host runs (<see cref="WebhookDispatcher.ProcessKicksAsync"/>).</summary>
internal sealed class WebhookKickService(WebhookDispatcher dispatcher) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await dispatcher.ProcessKicksAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
