using System.Text.Json;
using AgentRuns.Functions.Model;

namespace AgentRuns.Functions.Runs;

/// <summary>What an answer does to a request's proposed action: the edited arguments, and the action that was approved.</summary>
public static class RequestAnswers
{
    /// <summary>The <c>arguments</c> an approve's payload replaces the proposed ones with, or null when it edits nothing.</summary>
    public static string? EditedArguments(string? payloadJson)
    {
        if (payloadJson is null)
        {
            return null;
        }

        using var payload = JsonDocument.Parse(payloadJson);
        return payload.RootElement.ValueKind == JsonValueKind.Object && payload.RootElement.TryGetProperty("arguments", out var arguments)
            ? arguments.GetRawText()
            : null;
    }

    /// <summary>The proposed action's <c>arguments</c>, or null.</summary>
    public static string? Arguments(string? proposedActionJson)
    {
        if (proposedActionJson is null)
        {
            return null;
        }

        using var proposed = JsonDocument.Parse(proposedActionJson);
        return proposed.RootElement.ValueKind == JsonValueKind.Object && proposed.RootElement.TryGetProperty("arguments", out var arguments)
            ? arguments.GetRawText()
            : null;
    }

    /// <summary>The action approved: the proposed one, with its <c>arguments</c> replaced in full when the human edited them.</summary>
    public static string? ApprovedAction(string? proposedActionJson, string? editedArgumentsJson)
    {
        if (editedArgumentsJson is null)
        {
            return proposedActionJson;
        }

        using var proposed = JsonDocument.Parse(proposedActionJson ?? "{}");
        return JsonText.Object(w =>
        {
            if (proposed.RootElement.ValueKind == JsonValueKind.Object)
            {
                foreach (var member in proposed.RootElement.EnumerateObject().Where(m => m.Name != "arguments"))
                {
                    w.WriteRaw(member.Name, member.Value.GetRawText());
                }
            }

            w.WriteRaw("arguments", editedArgumentsJson);
        });
    }
}
