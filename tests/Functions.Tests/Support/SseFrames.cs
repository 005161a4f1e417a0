using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;

namespace AgentRuns.Functions.Tests.Support;

/// <param name="RawData">The frame's data as sent (its lines joined), for byte-for-byte checks.</param>
public sealed record SseFrame(string EventType, string? Id, JsonElement Data, string RawData);

/// <summary>Parses an SSE body with the framework's own parser, as a client would.</summary>
public static class SseFrames
{
    public static List<SseFrame> Parse(string body)
    {
        var parser = SseParser.Create(new MemoryStream(Encoding.UTF8.GetBytes(body)));
        return parser.Enumerate()
            .Select(item => new SseFrame(item.EventType, item.EventId, JsonDocument.Parse(item.Data).RootElement.Clone(), item.Data))
            .ToList();
    }
}
