using System.Collections.Concurrent;
using System.Text.Json;
using AgentRuns.Functions.Agents;

namespace AgentRuns.Functions.Tests.Support;

/// <summary>
/// The scripted agent, except that a run whose input has <c>"gate":"name"</c> is held in its first step until the test opens
/// that gate: a test can act while the agent is mid-step (cancel a run, kill storage) and then let it go on.
/// </summary>
public sealed class GatedAgent(ScriptedAgent inner) : IAgent
{
    private static readonly ConcurrentDictionary<string, TaskCompletionSource> Gates = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, TaskCompletionSource> Entered = new(StringComparer.Ordinal);

    /// <summary>Completes when a run with this gate is inside its first step.</summary>
    public static Task EnteredAsync(string gate) => Entered.GetOrAdd(gate, _ => NewSource()).Task;

    public static void Open(string gate) => Gates.GetOrAdd(gate, _ => NewSource()).TrySetResult();

    public async Task<AgentDecision> DecideAsync(AgentStepInput input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var document = JsonDocument.Parse(input.InputJson);
        if (input.StepIndex == 0 && document.RootElement.TryGetProperty("gate", out var gate) && gate.GetString() is { } name)
        {
            Entered.GetOrAdd(name, _ => NewSource()).TrySetResult();
            await Gates.GetOrAdd(name, _ => NewSource()).Task.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
        }

        return await inner.DecideAsync(input, cancellationToken);
    }

    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
