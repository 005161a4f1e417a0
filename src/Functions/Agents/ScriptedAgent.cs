using System.Text.Json;
using System.Text.Json.Nodes;
using AgentRuns.Functions.Model;

namespace AgentRuns.Functions.Agents;

/// <summary>
/// The built-in agent: plays <c>input.plan</c> step by step (or the default plan for a bare goal). Deterministic,
/// so every path of a run can be driven from a request.
/// </summary>
public sealed class ScriptedAgent : IAgent
{
    public Task<AgentDecision> DecideAsync(AgentStepInput input, CancellationToken cancellationToken)
    {
        var runInput = ApiJson.ParseElement(input.InputJson);
        var plan = ScriptedPlan.For(runInput);
        if (input.StepIndex >= plan.Count)
        {
            return Task.FromResult(AgentDecision.Finish(DefaultOutput(runInput, input)));
        }

        var step = plan[input.StepIndex];
        var decision = step.Type switch
        {
            ScriptedPlan.StepTypes.Work => AgentDecision.Work(step.Tool!, step.Summary!, step.DurationSeconds),
            ScriptedPlan.StepTypes.Approval => AgentDecision.Ask(InputKinds.Approval, step.Prompt!, step.ActionJson, step.AllowedActions),
            ScriptedPlan.StepTypes.Clarification => AgentDecision.Ask(InputKinds.Clarification, step.Prompt!, step.ActionJson, step.AllowedActions),
            ScriptedPlan.StepTypes.Data => AgentDecision.Ask(InputKinds.Data, step.Prompt!, step.ActionJson, step.AllowedActions),
            ScriptedPlan.StepTypes.Finish => AgentDecision.Finish(step.OutputJson ?? DefaultOutput(runInput, input)),
            ScriptedPlan.StepTypes.Fail => AgentDecision.Fail(step.ReasonCode!, step.Reason!),
            _ => throw new InvalidOperationException($"Unknown step type {step.Type}."),
        };
        return Task.FromResult(decision);
    }

    /// <summary>The output of a plan that ends without one: the goal, and every input the humans gave.</summary>
    private static string DefaultOutput(JsonElement runInput, AgentStepInput input)
    {
        var output = new JsonObject
        {
            ["summary"] = $"Completed: {runInput.GetProperty("goal").GetString()}",
            ["steps"] = input.StepIndex,
            ["human_inputs"] = new JsonArray(input.HumanInputsJson.Select(j => JsonNode.Parse(j)).ToArray()),
        };
        return output.ToJsonString();
    }
}
