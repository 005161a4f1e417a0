using AgentRuns.Functions.Idempotency;
using AgentRuns.Functions.Orchestrations;
using AgentRuns.Functions.Runs;
using AgentRuns.Functions.Webhooks;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Options;

namespace AgentRuns.LocalHost;

/// <summary>
/// What the Functions app's timer functions do, for a host that has no timer triggers: a repair pass every
/// <c>Repair:IntervalSeconds</c> (the same <see cref="RunRepairer"/> as the <c>RepairRuns</c> function), a webhook delivery pass
/// every <c>Webhooks:DispatchIntervalSeconds</c> (the same <see cref="WebhookDispatcher"/> as <c>DeliverWebhooks</c>), and every
/// hour the purge of expired idempotency keys, of finished runs' Durable history and of old webhook delivery attempts. The
/// repairs and the deliveries run side by side, so a slow receiver never delays a repair.
/// </summary>
public sealed partial class MaintenanceLoop(
    RunRepairer repairer,
    WebhookDispatcher webhooks,
    IdempotencyStore idempotency,
    HistoryRetention retention,
    DurableTaskClient durable,
    IOptions<RepairOptions> repair,
    IOptions<WebhookOptions> webhookOptions,
    ILogger<RunEngine> engineLogger,
    ILogger<MaintenanceLoop> logger) : BackgroundService
{
    private static readonly TimeSpan PurgeInterval = TimeSpan.FromHours(1);

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var engine = new RunEngine(durable, engineLogger);
        var nextPurge = DateTimeOffset.UtcNow;
        return Task.WhenAll(
            EveryAsync(TimeSpan.FromSeconds(repair.Value.IntervalSeconds), async ct =>
            {
                await repairer.RunOnceAsync(engine, ct);
                if (DateTimeOffset.UtcNow >= nextPurge)
                {
                    nextPurge = DateTimeOffset.UtcNow + PurgeInterval;
                    await idempotency.PurgeExpiredAsync(ct);
                    await retention.PurgeAsync(engine, ct);
                    await webhooks.PurgeAttemptsAsync(ct);
                }
            }, stoppingToken),
            EveryAsync(TimeSpan.FromSeconds(webhookOptions.Value.DispatchIntervalSeconds), ct => webhooks.RunOnceAsync(ct), stoppingToken));
    }

    private async Task EveryAsync(TimeSpan interval, Func<CancellationToken, Task> pass, CancellationToken stoppingToken)
    {
        await Task.Yield();
        while (true)
        {
            try
            {
                await pass(stoppingToken);
                await Task.Delay(interval, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // A failed pass (storage out) is retried at the next tick.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                LogPassFailed(logger, ex);
                await Task.Delay(interval, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A maintenance pass failed; it runs again at the next tick")]
    private static partial void LogPassFailed(ILogger logger, Exception exception);
}
