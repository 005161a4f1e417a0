using AgentRuns.Functions.Orchestrations;
using AgentRuns.Functions.Runs;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;

namespace AgentRuns.Functions.Maintenance;

/// <summary>Every hour, deletes the Durable history of finished runs past their retention (<see cref="HistoryRetention"/>).</summary>
public sealed class PurgeRunHistory(HistoryRetention retention, ILogger<RunEngine> engineLogger)
{
    [Function(nameof(PurgeRunHistory))]
    public Task Run([TimerTrigger("0 41 * * * *")] TimerInfo timer, [DurableClient] DurableTaskClient durable, CancellationToken cancellationToken) =>
        retention.PurgeAsync(new RunEngine(durable, engineLogger), cancellationToken);
}
