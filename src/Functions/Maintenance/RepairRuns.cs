using AgentRuns.Functions.Orchestrations;
using AgentRuns.Functions.Runs;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;

namespace AgentRuns.Functions.Maintenance;

/// <summary>Runs a repair pass every minute (<see cref="RunRepairer"/>): unfinished runs that are due get a look.</summary>
public sealed class RepairRuns(RunRepairer repairer, ILogger<RunEngine> engineLogger)
{
    [Function(nameof(RepairRuns))]
    public Task Run([TimerTrigger("30 * * * * *")] TimerInfo timer, [DurableClient] DurableTaskClient durable, CancellationToken cancellationToken) =>
        repairer.RunOnceAsync(new RunEngine(durable, engineLogger), cancellationToken);
}
