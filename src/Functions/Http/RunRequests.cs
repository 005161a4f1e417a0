using System.Text.Json;
using AgentRuns.Functions.Agents;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Runs;

namespace AgentRuns.Functions.Http;

/// <summary>Turns request bodies into validated requests, or says exactly what is wrong.</summary>
public static class RunRequests
{
    public const int MaxKeyLength = 255;

    public static CreateRunRequest ParseCreate(JsonElement body, int maxSignalTimeoutSeconds)
    {
        RequestReader.RejectUnknownMembers(body, "input", "metadata", "signal_timeout_seconds", "agent", "idempotency_key");
        if (!body.TryGetProperty("input", out var input) || input.ValueKind == JsonValueKind.Null)
        {
            throw ApiException.InvalidRequest("'input' is required.");
        }

        if (input.ValueKind != JsonValueKind.Object)
        {
            throw ApiException.InvalidRequest("'input' must be an object.");
        }

        if (!ScriptedPlan.TryParse(input, maxSignalTimeoutSeconds, out _, out var planError))
        {
            throw ApiException.InvalidRequest(planError!);
        }

        var metadata = RequestReader.OptionalObject(body, "metadata");
        var timeout = RequestReader.OptionalInt(body, "signal_timeout_seconds", 1, maxSignalTimeoutSeconds);
        var agent = RequestReader.OptionalString(body, "agent", 128);
        _ = RequestReader.OptionalString(body, "idempotency_key", MaxKeyLength);
        return new CreateRunRequest(input.GetRawText(), metadata?.GetRawText(), timeout, agent);
    }

    public static SignalRequest ParseSignal(JsonElement body)
    {
        RequestReader.RejectUnknownMembers(body, "action", "payload", "idempotency_key", "request_id");
        if (!body.TryGetProperty("action", out var action) || action.ValueKind == JsonValueKind.Null)
        {
            throw ApiException.InvalidSignalType("'action' is required: one of approve, reject, submit_input.");
        }

        if (action.ValueKind != JsonValueKind.String || !SignalActions.IsKnown(action.GetString()!))
        {
            throw ApiException.InvalidSignalType("'action' must be one of approve, reject, submit_input.");
        }

        var name = action.GetString()!;
        var payload = RequestReader.OptionalObject(body, "payload");
        if (name == SignalActions.SubmitInput && (payload is null || !payload.Value.EnumerateObject().Any()))
        {
            throw ApiException.InvalidRequest("submit_input needs 'payload': a non-empty object with the human's input.");
        }

        if (name == SignalActions.Reject && payload is { } rejection
            && rejection.TryGetProperty("reason", out var reason) && reason.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
        {
            // The reason becomes the run's error: a number or an object would be dropped without a word.
            throw ApiException.InvalidRequest("'payload.reason' of a reject must be a string.");
        }

        var requestId = RequestReader.OptionalString(body, "request_id", 64);
        _ = RequestReader.OptionalString(body, "idempotency_key", MaxKeyLength);
        return new SignalRequest(name, payload?.GetRawText(), requestId);
    }
}
