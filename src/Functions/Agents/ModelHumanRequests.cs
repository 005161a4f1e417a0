using System.Text.Json;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Storage;

namespace AgentRuns.Functions.Agents;

/// <summary>
/// How the model agent's tool calls map onto the guide's requests for human input, and the answers back onto tool results:
/// <list type="bullet">
/// <item>a call of an approval-required tool is an approval request: <c>proposed_action</c> <c>{tool, arguments, tool_call_id}</c>,
/// <c>response_schema</c> the tool's parameter schema, <c>allow_edits</c> the tool's flag, and only approve or reject
/// (<c>submit_input</c> is refused); approve runs the tool with the approved arguments (the human's, if edited), reject ends the
/// run (the orchestration does that, as for every request);</item>
/// <item>a call of <c>ask_human</c> is a clarification or data request (<see cref="AskHumanTool"/>); the submit_input payload is the
/// tool's result;</item>
/// <item>several calls in one model turn that need a human are asked one after the other, in the model's order, each its own
/// request; a call after one that waits waits too, so tools run in the order the model gave them.</item>
/// </list>
/// </summary>
public static class ModelHumanRequests
{
    /// <summary>An approval request can only be approved or rejected.</summary>
    public static readonly IReadOnlyList<string> ApprovalActions = [SignalActions.Approve, SignalActions.Reject];

    public static HumanRequestSpec Approval(ModelTool tool, ModelToolCall call)
    {
        ArgumentNullException.ThrowIfNull(tool);
        ArgumentNullException.ThrowIfNull(call);
        var description = tool.Function.Description is { Length: > 0 } d ? $" {Cut(d, 300)}" : "";
        var schema = ModelToolset.ResponseSchemaOf(tool);
        return new HumanRequestSpec(
            InputKinds.Approval,
            $"Approve {call.Name}?{description}",
            ProposedAction(call),
            ApprovalActions,
            schema,
            // Edits are checked against the tool's schema: without one the API accepts, an edit could be anything (a string, an
            // array, arguments the tool never takes), so the approver approves or rejects what the model proposed.
            tool.AllowEdits && schema is not null);
    }

    public static string ProposedAction(ModelToolCall call)
    {
        ArgumentNullException.ThrowIfNull(call);
        return JsonText.Object(w =>
        {
            w.WriteString("tool", call.Name);
            w.WriteRaw("arguments", call.ArgumentsJson);
            w.WriteString("tool_call_id", call.Id);
        });
    }

    /// <summary>
    /// The arguments an approve carries the call out with: those of the approved action (the human's edit, or the proposed ones),
    /// and whether the human edited them.
    /// </summary>
    public static (string ArgumentsJson, bool Edited) ApprovedArguments(HumanAnswer answer, ModelToolCall call)
    {
        ArgumentNullException.ThrowIfNull(answer);
        ArgumentNullException.ThrowIfNull(call);
        using var approved = JsonDocument.Parse(answer.ApprovedActionJson ?? ProposedAction(call));
        var root = approved.RootElement;
        if (!root.TryGetProperty("tool_call_id", out var id) || id.GetString() != call.Id)
        {
            throw new InvalidOperationException($"The approved action is not tool call {call.Id}.");
        }

        var arguments = root.TryGetProperty("arguments", out var a) ? a.GetRawText() : "{}";
        var edited = false;
        if (answer.PayloadJson is { } payloadJson)
        {
            using var payload = JsonDocument.Parse(payloadJson);
            edited = payload.RootElement.ValueKind == JsonValueKind.Object && payload.RootElement.TryGetProperty("arguments", out _);
        }

        return (arguments, edited);
    }

    /// <summary>What the model is told a tool returned after a human edited its arguments before approving.</summary>
    public static string EditedResult(string argumentsJson, string resultJson) => JsonText.Object(w =>
    {
        w.WriteString("note", "A human edited the arguments before approving; the tool ran with these arguments.");
        w.WriteRaw("arguments", argumentsJson);
        w.WriteRaw("result", resultJson);
    });

    internal static string Cut(string text, int max) => text.Length <= max ? text : string.Concat(text.AsSpan(0, char.IsHighSurrogate(text[max - 2]) ? max - 2 : max - 1), "…");
}
