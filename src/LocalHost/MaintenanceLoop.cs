using AgentRuns.Functions.Idempotency;
using AgentRuns.Functions.Orchestrations;
using AgentRuns.Functions.Runs;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Options;

namespace AgentRuns.LocalHost;

/// <summary>
/// What the Functions app's timer functions do, for a host that has no timer triggers: a repair pass every
/// <c>Repair:IntervalSeconds</c> (the same <see cref="RunRepairer"/> as the <c>RepairRuns</c> function), and every hour the
/// purge of expired idempotency keys and of finished runs' Durable history.
/// </summary>
public sealed partial class MaintenanceLoop(
    RunRepairer repairer,
    IdempotencyStore idempotency,
    HistoryRetention retention,
    DurableTaskClient durable,
    IOptions<RepairOptions> repair,
    ILogger<RunEngine> engineLogger,
    ILogger<MaintenanceLoop> logger) : BackgroundService
{
    private static readonly TimeSpan PurgeInterval = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var engine = new RunEngine(durable, engineLogger);
        var interval = TimeSpan.FromSeconds(repair.Value.IntervalSeconds);
        var nextPurge = DateTimeOffset.UtcNow;
        while (true)
        {
            try
            {
                await repairer.RunOnceAsync(engine, stoppingToken);
                if (DateTimeOffset.UtcNow >= nextPurge)
                {
                    nextPurge = DateTimeOffset.UtcNow + PurgeInterval;
                    await idempotency.PurgeExpiredAsync(stoppingToken);
                    await retention.PurgeAsync(engine, stoppingToken);
                }

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
