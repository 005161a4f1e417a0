using AgentRuns.Functions.Activities;
using AgentRuns.Functions.Agents;
using AgentRuns.Functions.Runs;
using Microsoft.DurableTask;
using Microsoft.Extensions.DependencyInjection;

namespace AgentRuns.Functions.Orchestrations;

/// <summary>
/// Registers the same orchestration body and activity methods that the Functions app exposes through
/// <c>[Function]</c>, for a Durable Task worker outside the Functions host (the local host and the test host).
/// The Functions host itself discovers them from the attributes and never calls this.
/// </summary>
public static class RunsDurableRegistry
{
    public static DurableTaskRegistry AddRunTasks(this DurableTaskRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);

        // A lambda, not a method group: the DurableTask analyzer crashes (AD0001) on a method group here.
        registry.AddOrchestratorFunc<RunOrchestrationInput, string>(nameof(RunOrchestration), (context, input) => RunOrchestration.RunAsync(context, input));
        registry.AddActivity(nameof(RunActivities.WriteRun), sp => new ServiceActivity<WriteRunInput, WriteOutcome>(
            input => sp.GetRequiredService<RunActivities>().WriteRun(input, CancellationToken.None)));
        registry.AddActivity(nameof(RunActivities.InvokeAgent), sp => new ServiceActivity<AgentStepInput, AgentDecision>(
            input => sp.GetRequiredService<RunActivities>().InvokeAgent(input, CancellationToken.None)));
        registry.AddActivity(nameof(RunActivities.RemindHuman), sp => new ServiceActivity<RemindInput, RemindOutcome>(
            input => sp.GetRequiredService<RunActivities>().RemindHuman(input, CancellationToken.None)));
        registry.AddActivity(nameof(RunActivities.ExpireRequest), sp => new ServiceActivity<ExpireRequestInput, ExpireOutcome>(
            input => sp.GetRequiredService<RunActivities>().ExpireRequest(input, CancellationToken.None)));
        return registry;
    }

    private sealed class ServiceActivity<TInput, TOutput>(Func<TInput, Task<TOutput>> body) : TaskActivity<TInput, TOutput>
    {
        public override Task<TOutput> RunAsync(TaskActivityContext context, TInput input) => body(input);
    }
}
