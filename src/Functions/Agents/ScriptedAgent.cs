using System.Text.Json;
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
            ScriptedPlan.StepTypes.Approval or ScriptedPlan.StepTypes.Clarification or ScriptedPlan.StepTypes.Data => AgentDecision.Ask(step.Request!),
            ScriptedPlan.StepTypes.Finish => step.OutputJson is null ? DefaultFinish(runInput, input) : AgentDecision.Finish(step.OutputJson),
            ScriptedPlan.StepTypes.Fail => AgentDecision.Fail(step.ReasonCode!, step.Reason!),
            _ => throw new InvalidOperationException($"Unknown step type {step.Type}."),
        };
        return Task.FromResult(decision);
    }

    /// <summary>
    /// The output of a plan that ends without one: the goal, and every input the humans gave, as they gave it but with secrets
    /// masked, since the output is shown to every reader of the run. Inputs that would make the output larger than a run may
    /// hold are left out, and counted.
    /// </summary>
    private AgentDecision DefaultFinish(JsonElement runInput, AgentStepInput input)
    {
        var summary = $"Completed: {runInput.GetProperty("goal").GetString()}";
        var inputs = input.SubmittedInputs().Select(redactor.Redact).ToList();
        var approved = input.Answers.Where(a => a.ApprovedActionJson is not null).Select(a => redactor.Redact(a.ApprovedActionJson!)).ToList();
        var budget = RunLimits.MaxOutputChars - summary.Length - 256;
        var included = new List<string>();
        foreach (var human in inputs)
        {
            if (human.Json.Length > budget)
            {
                break;
            }

            included.Add(human.Json);
            budget -= human.Json.Length + 1;
        }

        var output = JsonText.Object(w =>
        {
            w.WriteString("summary", summary);
            w.WriteNumber("steps", input.StepIndex);
            w.WriteStartArray("human_inputs");
            foreach (var json in included)
            {
                w.WriteRawValue(json, skipInputValidation: true);
            }

            w.WriteEndArray();
            if (included.Count < inputs.Count)
            {
                w.WriteNumber("human_inputs_omitted", inputs.Count - included.Count);
            }

            // What the humans approved, with their edits: the run carried out these.
            if (approved.Count > 0 && approved.Sum(a => a.Json.Length) < budget)
            {
                w.WriteStartArray("approved_actions");
                foreach (var action in approved)
                {
                    w.WriteRawValue(action.Json, skipInputValidation: true);
                }

                w.WriteEndArray();
            }
        });
        return AgentDecision.Finish(output, inputs.Any(i => i.Redacted) || approved.Any(a => a.Redacted));
    }
}
