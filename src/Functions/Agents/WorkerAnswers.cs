using System.Text.Json;
using System.Text.RegularExpressions;
using AgentRuns.Functions.Model;

namespace AgentRuns.Functions.Agents;

/// <summary>
/// Reads an HTTP worker's answer: a decision in the shape of a scripted plan step (<see cref="ScriptedPlan.TryParseStep"/>, so
/// <c>work</c>, <c>approval</c>, <c>clarification</c>, <c>data</c>, <c>finish</c> and <c>fail</c> take exactly the fields a plan
/// step takes, <c>response_schema</c> and <c>allow_edits</c> included), or <c>{"type":"wait","seconds":n}</c> to be called again
/// later. Stricter than a plan in three ways, because a program wrote it: a member the type does not take is refused (a typo
/// never passes silently), texts have limits (so a run's record stays storable), and a string must be text. What is wrong
/// is said without quoting the answer's values, which may be secrets.
/// </summary>
public static partial class WorkerAnswers
{
    public const string Wait = "wait";

    /// <summary>The longest a worker may ask to wait before it is called again.</summary>
    public const int MaxWaitSeconds = 3600;

    public const int MaxToolChars = 100;
    public const int MaxSummaryChars = 4096;
    public const int MaxPromptChars = 8192;

    /// <summary>The longest proposed action, in characters of its JSON text.</summary>
    public const int MaxActionChars = RunLimits.MaxProposedActionChars;

    private static readonly string[] Types =
    [
        ScriptedPlan.StepTypes.Work, ScriptedPlan.StepTypes.Approval, ScriptedPlan.StepTypes.Clarification, ScriptedPlan.StepTypes.Data,
        ScriptedPlan.StepTypes.Finish, ScriptedPlan.StepTypes.Fail, Wait,
    ];

    private static readonly string[] RequestMembers =
        ["type", "prompt", "action", "allowed_actions", "response_schema", "allow_edits", "timeout_seconds", "reminders"];

    private static readonly Dictionary<string, string[]> Members = new(StringComparer.Ordinal)
    {
        [ScriptedPlan.StepTypes.Work] = ["type", "tool", "summary", "duration_seconds"],
        [ScriptedPlan.StepTypes.Approval] = RequestMembers,
        [ScriptedPlan.StepTypes.Clarification] = RequestMembers,
        [ScriptedPlan.StepTypes.Data] = RequestMembers,
        [ScriptedPlan.StepTypes.Finish] = ["type", "output"],
        [ScriptedPlan.StepTypes.Fail] = ["type", "reason", "reason_code"],
        [Wait] = ["type", "seconds"],
    };

    /// <summary>The decision the answer says, or what is wrong with it (a sentence for the run's failure reason).</summary>
    /// <param name="maxTimeoutSeconds">The longest a request may wait (<c>Runs:MaxSignalTimeoutSeconds</c>).</param>
    public static bool TryParse(string text, int maxTimeoutSeconds, out AgentDecision? decision, out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        decision = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "it is empty; answer with a JSON object such as {\"type\":\"finish\",\"output\":{…}}.";
            return false;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text, ApiJson.DocumentOptions);
        }
        catch (JsonException ex)
        {
            var where = ex.LineNumber is { } line ? $" (line {line + 1}, byte {ex.BytePositionInLine + 1})" : "";
            error = $"it is not JSON{where}, or it repeats a member, or it nests deeper than {ApiJson.DocumentOptions.MaxDepth} levels.";
            return false;
        }
        catch (InvalidOperationException)
        {
            error = "a member name is not text (a lone surrogate escape).";
            return false;
        }

        using (document)
        {
            return TryRead(document.RootElement, maxTimeoutSeconds, out decision, out error);
        }
    }

    private static bool TryRead(JsonElement answer, int maxTimeoutSeconds, out AgentDecision? decision, out string? error)
    {
        decision = null;
        if (answer.ValueKind != JsonValueKind.Object)
        {
            error = $"it is a JSON {answer.ValueKind.ToString().ToLowerInvariant()}, not an object with a type.";
            return false;
        }

        if (!ApiJson.HasValidText(answer))
        {
            error = "a string in it is not text (a lone surrogate escape).";
            return false;
        }

        if (!answer.TryGetProperty("type", out var typeElement) || typeElement.ValueKind == JsonValueKind.Null)
        {
            error = $"type is required: one of {string.Join(", ", Types)}.";
            return false;
        }

        var type = typeElement.ValueKind == JsonValueKind.String ? typeElement.GetString()! : null;
        if (type is null || !Members.TryGetValue(type, out var allowed))
        {
            error = $"type must be one of {string.Join(", ", Types)}.";
            return false;
        }

        if (answer.EnumerateObject().Select(m => m.Name).FirstOrDefault(n => !allowed.Contains(n, StringComparer.Ordinal)) is { } unknown)
        {
            error = $"a {type} answer has no member '{Shorten(unknown)}' (it takes {string.Join(", ", allowed)}).";
            return false;
        }

        if (type == Wait)
        {
            if (!answer.TryGetProperty("seconds", out var s) || s.ValueKind != JsonValueKind.Number || !s.TryGetInt32(out var seconds)
                || seconds < 1 || seconds > MaxWaitSeconds)
            {
                error = $"a wait answer needs seconds: an integer from 1 to {MaxWaitSeconds}.";
                return false;
            }

            decision = AgentDecision.Wait(seconds);
            error = null;
            return true;
        }

        if (!ScriptedPlan.TryParseStep(answer, maxTimeoutSeconds, out var step, out error))
        {
            return false;
        }

        error = CheckLimits(step!);
        if (error is not null)
        {
            return false;
        }

        decision = step!.Type switch
        {
            ScriptedPlan.StepTypes.Work => AgentDecision.Work(step.Tool!, step.Summary!, step.DurationSeconds),
            // Well-formed but more than a run holds: the run ends as any run whose output is too large does.
            ScriptedPlan.StepTypes.Finish when step.OutputJson is { Length: > RunLimits.MaxOutputChars } output => AgentDecision.Fail(
                RunReasonCodes.OutputTooLarge,
                $"The worker's output has {output.Length} characters of JSON; a run's output holds at most {RunLimits.MaxOutputChars}."),
            ScriptedPlan.StepTypes.Finish => AgentDecision.Finish(step.OutputJson ?? "{}"),
            ScriptedPlan.StepTypes.Fail => AgentDecision.Fail(step.ReasonCode!, RunLimits.Reason(step.Reason!)),
            _ => AgentDecision.Ask(step.Request!),
        };
        return true;
    }

    private static string? CheckLimits(PlanStep step)
    {
        if (step.Tool is { Length: > MaxToolChars })
        {
            return $"tool must be at most {MaxToolChars} characters.";
        }

        if (step.Tool is { Length: 0 })
        {
            return "tool must not be empty.";
        }

        if (step.Summary is { Length: > MaxSummaryChars })
        {
            return $"summary must be at most {MaxSummaryChars} characters.";
        }

        if (step.Request is { } request)
        {
            if (request.Prompt.Length > MaxPromptChars)
            {
                return $"prompt must be at most {MaxPromptChars} characters.";
            }

            if (request.ProposedActionJson is { Length: > MaxActionChars })
            {
                return $"action must be at most {MaxActionChars} characters of JSON.";
            }
        }

        if (step.Type == ScriptedPlan.StepTypes.Fail && !ReasonCode().IsMatch(step.ReasonCode!))
        {
            return "reason_code must be 1 to 64 lowercase letters, digits and '_', starting with a letter.";
        }

        if (step.Type == ScriptedPlan.StepTypes.Fail && ReservedReasonCodes.Contains(step.ReasonCode!))
        {
            return $"reason_code '{step.ReasonCode}' is the service's own; a worker's failure uses '{RunReasonCodes.AgentFailed}' or a code of its own.";
        }

        return null;
    }

    /// <summary>Codes the service gives its own endings: a worker claiming one would make a client act on something that did not happen.</summary>
    private static readonly HashSet<string> ReservedReasonCodes =
    [
        RunReasonCodes.SignalTimeout, RunReasonCodes.CancelledByUser, RunReasonCodes.Rejected, RunReasonCodes.AgentError,
        RunReasonCodes.AgentTurnLimit, RunReasonCodes.EngineError, RunReasonCodes.OutputTooLarge,
    ];

    private static string Shorten(string value) => value.Length <= 40 ? value : value[..40] + "…";

    [GeneratedRegex("^[a-z][a-z0-9_]{0,63}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex ReasonCode();
}
