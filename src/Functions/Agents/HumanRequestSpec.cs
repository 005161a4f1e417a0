using System.Text.Json;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Schemas;

namespace AgentRuns.Functions.Agents;

/// <summary>
/// What an agent asks of a human: the kind of input, the prompt, what is proposed, which answers are allowed, and the
/// optional typed parts (a schema for what the human supplies, edits of the proposed action, a timeout and reminders).
/// </summary>
/// <param name="ProposedActionRedacted">True when the agent masked secret-looking fields of the proposed action: the
/// <c>run.awaiting_input</c> event then says <c>redacted: true</c>.</param>
public sealed record HumanRequestSpec(
    string InputKind,
    string Prompt,
    string? ProposedActionJson = null,
    IReadOnlyList<string>? AllowedActions = null,
    string? ResponseSchemaJson = null,
    bool AllowEdits = false,
    int? TimeoutSeconds = null,
    IReadOnlyList<int>? Reminders = null,
    bool ProposedActionRedacted = false);

/// <summary>Reads and checks the request fields of a plan step (or any agent's answer written in the same shape).</summary>
public static class HumanRequestSpecs
{
    public const int MaxReminders = 10;

    /// <param name="item">The step: <c>prompt?</c>, <c>action?</c>, <c>allowed_actions?</c>, <c>response_schema?</c>,
    /// <c>allow_edits?</c>, <c>timeout_seconds?</c>, <c>reminders?</c>.</param>
    /// <param name="maxTimeoutSeconds">The longest a request may wait (<c>Runs:MaxSignalTimeoutSeconds</c>).</param>
    public static bool TryParse(JsonElement item, string inputKind, int maxTimeoutSeconds, out HumanRequestSpec? spec, out string? error)
    {
        spec = null;
        if (!TryString(item, "prompt", out var prompt, out error))
        {
            return false;
        }

        string? actionJson = null;
        if (item.TryGetProperty("action", out var action) && action.ValueKind != JsonValueKind.Null)
        {
            if (action.ValueKind != JsonValueKind.Object)
            {
                error = "action must be an object.";
                return false;
            }

            actionJson = action.GetRawText();
        }

        if (!TryAllowedActions(item, out var allowed, out error))
        {
            return false;
        }

        string? schemaJson = null;
        if (item.TryGetProperty("response_schema", out var schema) && schema.ValueKind != JsonValueKind.Null)
        {
            schemaJson = schema.GetRawText();
            if (ResponseSchemas.Check(schemaJson) is { } schemaError)
            {
                error = schemaError;
                return false;
            }
        }

        var allowEdits = false;
        if (item.TryGetProperty("allow_edits", out var edits) && edits.ValueKind != JsonValueKind.Null)
        {
            if (edits.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                error = "allow_edits must be true or false.";
                return false;
            }

            allowEdits = edits.GetBoolean();
            if (allowEdits && inputKind != InputKinds.Approval)
            {
                error = "allow_edits applies to approval requests only.";
                return false;
            }
        }

        int? timeout = null;
        if (item.TryGetProperty("timeout_seconds", out var t) && t.ValueKind != JsonValueKind.Null)
        {
            if (t.ValueKind != JsonValueKind.Number || !t.TryGetInt32(out var seconds) || seconds < 1 || seconds > maxTimeoutSeconds)
            {
                error = $"timeout_seconds must be an integer from 1 to {maxTimeoutSeconds}.";
                return false;
            }

            timeout = seconds;
        }

        var reminders = new List<int>();
        if (item.TryGetProperty("reminders", out var r) && r.ValueKind != JsonValueKind.Null)
        {
            if (r.ValueKind != JsonValueKind.Array || r.GetArrayLength() > MaxReminders)
            {
                error = $"reminders must be an array of at most {MaxReminders} numbers of seconds before the deadline.";
                return false;
            }

            foreach (var reminder in r.EnumerateArray())
            {
                if (reminder.ValueKind != JsonValueKind.Number || !reminder.TryGetInt32(out var seconds) || seconds < 1 || seconds > maxTimeoutSeconds)
                {
                    error = $"each reminder must be an integer from 1 to {maxTimeoutSeconds} (seconds before the deadline).";
                    return false;
                }

                if (!reminders.Contains(seconds))
                {
                    reminders.Add(seconds);
                }
            }
        }

        spec = new HumanRequestSpec(
            inputKind, prompt ?? DefaultPrompt(inputKind), actionJson, allowed, schemaJson, allowEdits, timeout,
            [.. reminders.OrderByDescending(x => x)]);
        return true;
    }

    private static string DefaultPrompt(string inputKind) => inputKind switch
    {
        InputKinds.Approval => "Approve the proposed action?",
        InputKinds.Clarification => "Please clarify the request.",
        _ => "Please provide the missing data.",
    };

    private static bool TryAllowedActions(JsonElement item, out IReadOnlyList<string>? allowed, out string? error)
    {
        allowed = null;
        error = null;
        if (!item.TryGetProperty("allowed_actions", out var list) || list.ValueKind == JsonValueKind.Null)
        {
            return true;
        }

        if (list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
        {
            error = "allowed_actions must be a non-empty array.";
            return false;
        }

        var actions = new List<string>();
        foreach (var a in list.EnumerateArray())
        {
            if (a.ValueKind != JsonValueKind.String || !SignalActions.IsKnown(a.GetString()!))
            {
                error = "allowed_actions may hold only approve, reject and submit_input.";
                return false;
            }

            if (!actions.Contains(a.GetString()!))
            {
                actions.Add(a.GetString()!);
            }
        }

        allowed = actions;
        return true;
    }

    private static bool TryString(JsonElement item, string name, out string? value, out string? error)
    {
        value = null;
        error = null;
        if (!item.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
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
