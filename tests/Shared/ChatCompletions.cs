using System.Text;
using System.Text.Json;

namespace AgentRuns.Testing;

/// <summary>A tool call in a pre-set model answer.</summary>
public sealed record PresetToolCall(string Id, string Name, object Arguments);

/// <summary>
/// Bodies of the OpenAI Chat Completions API (<c>POST {endpoint}/chat/completions</c>) as a server answers them, for test servers
/// that stand in for a model: what any OpenAI-compatible server sends back.
/// </summary>
public static class ChatCompletions
{
    /// <summary>A non-streaming response: an assistant message with <paramref name="text"/> and/or tool calls.</summary>
    public static string Response(string model, string? text, params PresetToolCall[] calls)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", "chatcmpl-" + Guid.NewGuid().ToString("N")[..12]);
            w.WriteString("object", "chat.completion");
            w.WriteNumber("created", DateTimeOffset.UtcNow.ToUnixTimeSeconds());
            w.WriteString("model", model);
            w.WriteStartArray("choices");
            w.WriteStartObject();
            w.WriteNumber("index", 0);
            w.WriteStartObject("message");
            w.WriteString("role", "assistant");
            if (text is null)
            {
                w.WriteNull("content");
            }
            else
            {
                w.WriteString("content", text);
            }

            if (calls.Length > 0)
            {
                w.WriteStartArray("tool_calls");
                foreach (var call in calls)
                {
                    w.WriteStartObject();
                    w.WriteString("id", call.Id);
                    w.WriteString("type", "function");
                    w.WriteStartObject("function");
                    w.WriteString("name", call.Name);
                    w.WriteString("arguments", call.Arguments as string ?? JsonSerializer.Serialize(call.Arguments));
                    w.WriteEndObject();
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            }

            w.WriteEndObject();
            w.WriteString("finish_reason", calls.Length > 0 ? "tool_calls" : "stop");
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteStartObject("usage");
            w.WriteNumber("prompt_tokens", 10);
            w.WriteNumber("completion_tokens", 5);
            w.WriteNumber("total_tokens", 15);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>An error body as OpenAI-compatible servers send it.</summary>
    public static string Error(string message, string type = "server_error") =>
        JsonSerializer.Serialize(new { error = new { message, type, code = (string?)null } });

    /// <summary>The text of the first user message of a request body (the run's goal).</summary>
    public static string? FirstUserText(JsonElement request)
    {
        foreach (var message in request.GetProperty("messages").EnumerateArray())
        {
            if (message.GetProperty("role").GetString() == "user")
            {
                var content = message.GetProperty("content");
                return content.ValueKind == JsonValueKind.String
                    ? content.GetString()
                    : string.Concat(content.EnumerateArray().Select(p => p.TryGetProperty("text", out var t) ? t.GetString() : ""));
            }
        }

        return null;
    }

    /// <summary>The tool results in a request, in order: (tool_call_id, content).</summary>
    public static IReadOnlyList<(string ToolCallId, string Content)> ToolResults(JsonElement request) =>
        [.. request.GetProperty("messages").EnumerateArray()
            .Where(m => m.GetProperty("role").GetString() == "tool")
            .Select(m => (m.GetProperty("tool_call_id").GetString()!, ContentText(m.GetProperty("content"))))];

    private static string ContentText(JsonElement content) => content.ValueKind == JsonValueKind.String
        ? content.GetString()!
        : string.Concat(content.EnumerateArray().Select(p => p.TryGetProperty("text", out var t) ? t.GetString() : ""));
}
