using System.Text.Json;
using AgentRuns.Functions.Model;

namespace AgentRuns.Functions.Agents;

/// <summary>One step of a scripted plan (<c>input.plan[i]</c>).</summary>
public sealed record PlanStep(
    string Type,
    string? Tool = null,
    string? Summary = null,
    HumanRequestSpec? Request = null,
    string? OutputJson = null,
    string? ReasonCode = null,
    string? Reason = null,
    int DurationSeconds = 0);

/// <summary>
/// Reads and checks <c>input.plan</c>: a list of steps that drives the built-in scripted agent down any path.
/// <code>
/// {"type":"work","tool":"draft_email","summary":"Drafted the email","duration_seconds":5}
/// {"type":"approval","prompt":"Send it?","action":{"tool":"send_email","arguments":{…}},"allowed_actions":["approve","reject"],
///  "allow_edits":true,"response_schema":{…},"timeout_seconds":600,"reminders":[300,60]}
/// {"type":"clarification","prompt":"Which list?"}      {"type":"data","prompt":"Who should receive it?","response_schema":{…}}
/// {"type":"finish","output":{...}}                     {"type":"fail","reason":"…","reason_code":"…"}
/// </code>
/// Without a plan, a goal runs <see cref="DefaultFor"/>: draft, ask approval to act, act, finish.
/// </summary>
public static class ScriptedPlan
{
    public const int MaxSteps = 100;

    /// <summary>The longest a scripted work step may take.</summary>
    public const int MaxWorkSeconds = 3600;

    public static class StepTypes
    {
        public const string Work = "work";
        public const string Approval = "approval";
        public const string Clarification = "clarification";
        public const string Data = "data";
        public const string Finish = "finish";
        public const string Fail = "fail";
    }

    public static IReadOnlyList<PlanStep> DefaultFor(string goal) =>
    [
        new(StepTypes.Work, Tool: "draft", Summary: $"Drafted a plan for: {goal}"),
        new(StepTypes.Approval, Request: new HumanRequestSpec(
            InputKinds.Approval, $"Approve carrying out: {goal}", JsonText.Object(w =>
            {
                w.WriteString("tool", "execute");
                w.WriteString("description", goal);
            }))),
        new(StepTypes.Work, Tool: "execute", Summary: "Carried out the approved action."),
        new(StepTypes.Finish),
    ];

    /// <summary>The plan of a run input (validated at creation, so this only fails on stored garbage).</summary>
    public static IReadOnlyList<PlanStep> For(JsonElement input)
    {
        if (TryParse(input, int.MaxValue, out var steps, out var error))
        {
            return steps;
        }

        throw new InvalidOperationException($"Invalid plan: {error}");
    }

    /// <summary>Checks a run's <c>input</c>: a non-empty <c>goal</c> and, if present, a well-formed <c>plan</c>.</summary>
    /// <param name="maxTimeoutSeconds">The longest a request may wait (<c>Runs:MaxSignalTimeoutSeconds</c>).</param>
    public static bool TryParse(JsonElement input, int maxTimeoutSeconds, out IReadOnlyList<PlanStep> steps, out string? error)
    {
        steps = [];
        if (input.ValueKind != JsonValueKind.Object)
        {
            error = "input must be an object.";
            return false;
        }

        if (!input.TryGetProperty("goal", out var goal) || goal.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(goal.GetString()))
        {
            error = "input.goal must be a non-empty string.";
            return false;
        }

        if (!input.TryGetProperty("plan", out var plan) || plan.ValueKind == JsonValueKind.Null)
        {
            steps = DefaultFor(goal.GetString()!);
            error = null;
            return true;
        }

        if (plan.ValueKind != JsonValueKind.Array || plan.GetArrayLength() is 0 or > MaxSteps)
        {
            error = $"input.plan must be an array of 1 to {MaxSteps} steps.";
            return false;
        }

        var parsed = new List<PlanStep>();
        var index = 0;
        foreach (var item in plan.EnumerateArray())
        {
            if (!TryParseStep(item, maxTimeoutSeconds, out var step, out var stepError))
            {
                error = $"input.plan[{index}]: {stepError}";
                return false;
            }

            parsed.Add(step!);
            index++;
        }

        steps = parsed;
        error = null;
        return true;
    }

    /// <summary>
    /// Reads one step: of a plan, or an HTTP worker's answer, which has the same shape. Members a step type does not use are
    /// ignored here (the worker's answers are held to them by <see cref="WorkerAnswers"/>).
    /// </summary>
    public static bool TryParseStep(JsonElement item, int maxTimeoutSeconds, out PlanStep? step, out string? error)
    {
        step = null;
        if (item.ValueKind != JsonValueKind.Object)
        {
            error = "a step must be an object.";
            return false;
        }

        if (!TryString(item, "type", required: true, out var type, out error))
        {
            return false;
        }

        switch (type)
        {
            case StepTypes.Work:
                if (!TryString(item, "tool", false, out var tool, out error) || !TryString(item, "summary", false, out var summary, out error))
                {
                    return false;
                }

                var duration = 0;
                if (item.TryGetProperty("duration_seconds", out var d) && d.ValueKind != JsonValueKind.Null
                    && (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out duration) || duration < 0 || duration > MaxWorkSeconds))
                {
                    error = $"duration_seconds must be an integer from 0 to {MaxWorkSeconds}.";
                    return false;
                }

                step = new PlanStep(type, Tool: tool ?? "work", Summary: summary ?? "Did some work.", DurationSeconds: duration);
                return true;

            case StepTypes.Approval or StepTypes.Clarification or StepTypes.Data:
                if (!HumanRequestSpecs.TryParse(item, type, maxTimeoutSeconds, out var request, out error))
                {
                    return false;
                }

                step = new PlanStep(type, Request: request);
                return true;

            case StepTypes.Finish:
                string? output = null;
                if (item.TryGetProperty("output", out var o) && o.ValueKind != JsonValueKind.Null)
                {
                    output = o.GetRawText();
                }

                step = new PlanStep(type, OutputJson: output);
                error = null;
                return true;

            case StepTypes.Fail:
                if (!TryString(item, "reason", false, out var reason, out error) || !TryString(item, "reason_code", false, out var code, out error))
                {
                    return false;
                }

                step = new PlanStep(type, ReasonCode: code ?? RunReasonCodes.AgentFailed, Reason: reason ?? "The agent could not complete the goal.");
                return true;

            default:
                error = "type must be one of work, approval, clarification, data, finish, fail.";
                return false;
        }
    }

    private static bool TryString(JsonElement item, string name, bool required, out string? value, out string? error)
    {
        value = null;
        error = null;
        if (!item.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            if (required)
            {
                error = $"{name} is required.";
                return false;
            }

            return true;
        }

        if (v.ValueKind != JsonValueKind.String)
        {
            error = $"{name} must be a string.";
            return false;
        }

        value = v.GetString();
        return true;
    }
}
