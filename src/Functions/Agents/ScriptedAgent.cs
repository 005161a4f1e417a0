using System.Text.Json;
using System.Text.Json.Nodes;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Security;

namespace AgentRuns.Functions.Agents;

/// <summary>
/// The built-in agent: plays <c>input.plan</c> step by step (or the default plan for a bare goal). Deterministic,
/// so every path of a run can be driven from a request.
/// </summary>
public sealed class ScriptedAgent(PayloadRedactor redactor) : IAgent
{
    public Task<AgentDecision> DecideAsync(AgentStepInput input, CancellationToken cancellationToken)
    {
        var runInput = ApiJson.ParseElement(input.InputJson);
        var plan = ScriptedPlan.For(runInput);
        if (input.StepIndex >= plan.Count)
        {
            return Task.FromResult(DefaultFinish(runInput, input));
        }

        var step = plan[input.StepIndex];
        var decision = step.Type switch
        {
            ScriptedPlan.StepTypes.Work => AgentDecision.Work(step.Tool!, step.Summary!, step.DurationSeconds),
            ScriptedPlan.StepTypes.Approval => AgentDecision.Ask(InputKinds.Approval, step.Prompt!, step.ActionJson, step.AllowedActions),
            ScriptedPlan.StepTypes.Clarification => AgentDecision.Ask(InputKinds.Clarification, step.Prompt!, step.ActionJson, step.AllowedActions),
            ScriptedPlan.StepTypes.Data => AgentDecision.Ask(InputKinds.Data, step.Prompt!, step.ActionJson, step.AllowedActions),
            ScriptedPlan.StepTypes.Finish => step.OutputJson is null ? DefaultFinish(runInput, input) : AgentDecision.Finish(step.OutputJson),
            ScriptedPlan.StepTypes.Fail => AgentDecision.Fail(step.ReasonCode!, step.Reason!),
            _ => throw new InvalidOperationException($"Unknown step type {step.Type}."),
        };
        return Task.FromResult(decision);
    }

    /// <summary>
    /// The output of a plan that ends without one: the goal, and every input the humans gave — with secrets masked,
    /// since the output is shown to every reader of the run.
    /// </summary>
    private AgentDecision DefaultFinish(JsonElement runInput, AgentStepInput input)
    {
        var inputs = input.HumanInputsJson.Select(redactor.Redact).ToList();
        var output = new JsonObject
        {
            ["summary"] = $"Completed: {runInput.GetProperty("goal").GetString()}",
            ["steps"] = input.StepIndex,
            ["human_inputs"] = new JsonArray(inputs.Select(j => JsonNode.Parse(j.Json)).ToArray()),
        };
        return AgentDecision.Finish(output.ToJsonString(), inputs.Any(i => i.Redacted));
    }
}
