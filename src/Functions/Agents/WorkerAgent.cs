using System.Text.Json;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Security;
using AgentRuns.Functions.Storage;
using AgentRuns.Functions.Workers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Agents;

/// <summary>
/// An agent in any language: each step of a run (one <c>InvokeAgent</c> activity) is one signed POST to the tenant's worker
/// (<see cref="WorkerStepMessage"/>, <see cref="WorkerClient"/>), whose answer is the step's decision (<see cref="WorkerAnswers"/>).
/// <list type="bullet">
/// <item>A step's decision is stored (<see cref="WorkerStepStore"/>) before it is returned: a retried step returns it without
/// calling the worker again. A step that dies before that calls it again with the same idempotency key.</item>
/// <item>A worker that cannot be reached, keeps failing or answers something that is not a decision ends the run failed with
/// <c>agent_error</c> and the reason; a run that asked <see cref="WorkerOptions.MaxSteps"/> steps ends with
/// <c>agent_turn_limit</c>.</item>
/// <item>What the worker answers is masked where it carries JSON values (the proposed action, the output) before anything
/// stores it: secret-looking fields never reach the event log, the run record or the Durable history.</item>
/// </list>
/// </summary>
public sealed partial class WorkerAgent(
    WorkerStore workers,
    WorkerStepStore steps,
    WorkerClient client,
    PayloadRedactor redactor,
    IOptions<WorkerOptions> options,
    IOptions<RunOptions> runOptions,
    ILogger<WorkerAgent> logger) : IAgent
{
    private static readonly JsonSerializerOptions DecisionJson = new(JsonSerializerDefaults.Web) { Encoder = ApiJson.Encoder };

    public async Task<AgentDecision> DecideAsync(AgentStepInput input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (await steps.GetAsync(input.RunId, input.StepIndex, cancellationToken) is { } stored)
        {
            return Read(stored);
        }

        var decision = await DecideOnceAsync(input, cancellationToken);
        return Read(await steps.SaveAsync(input.RunId, input.StepIndex, JsonSerializer.Serialize(decision, DecisionJson), cancellationToken));
    }

    private async Task<AgentDecision> DecideOnceAsync(AgentStepInput input, CancellationToken cancellationToken)
    {
        var name = WorkerNames.FromAgent(input.Agent) ?? throw new InvalidOperationException($"Run {input.RunId}: '{input.Agent}' names no worker.");
        if (input.StepIndex >= options.Value.MaxSteps)
        {
            return AgentDecision.Fail(
                RunReasonCodes.AgentTurnLimit, $"The worker '{name}' was asked for {options.Value.MaxSteps} steps without finishing (Workers:MaxSteps).");
        }

        if (await workers.GetAsync(input.TenantId, name, cancellationToken) is not { } worker)
        {
            return AgentDecision.Fail(RunReasonCodes.AgentError, $"The worker '{name}' is no longer registered.");
        }

        var message = WorkerStepMessage.For(input, name);
        var call = await client.CallAsync(new Uri(worker.Url), worker.Secret, message, cancellationToken);
        if (call.Failure is { } failure)
        {
            LogCallFailed(logger, input.RunId, input.StepIndex, name, call.Attempts, failure);
            return AgentDecision.Fail(RunReasonCodes.AgentError, $"The worker '{name}' failed at step {input.StepIndex}: {failure}");
        }

        if (!WorkerAnswers.TryParse(call.Body!, runOptions.Value.MaxSignalTimeoutSeconds, out var decision, out var error))
        {
            LogMalformed(logger, input.RunId, input.StepIndex, name, error!);
            return AgentDecision.Fail(RunReasonCodes.AgentError, $"The worker '{name}' answered step {input.StepIndex} with something that is not a decision: {error}");
        }

        return Masked(decision!);
    }

    /// <summary>The decision as the run may record it: secret-looking fields of its JSON values masked.</summary>
    private AgentDecision Masked(AgentDecision decision)
    {
        switch (decision.Kind)
        {
            case AgentDecisionKind.AskHuman when decision.Request is { ProposedActionJson: { } action } request:
                var masked = redactor.Redact(action);
                return masked.Redacted
                    ? decision with { Request = request with { ProposedActionJson = masked.Json, ProposedActionRedacted = true } }
                    : decision;
            case AgentDecisionKind.Finish:
                var output = redactor.Redact(decision.OutputJson ?? "{}");
                return decision with { OutputJson = output.Json, OutputRedacted = output.Redacted };
            default:
                return decision;
        }
    }

    private static AgentDecision Read(string json) => JsonSerializer.Deserialize<AgentDecision>(json, DecisionJson)!;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: step {Step} of worker {WorkerName} failed after {Attempts} attempts: {Failure}")]
    private static partial void LogCallFailed(ILogger logger, string runId, int step, string workerName, int attempts, string failure);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: worker {WorkerName} answered step {Step} with something that is not a decision: {Problem}")]
    private static partial void LogMalformed(ILogger logger, string runId, int step, string workerName, string problem);
}
