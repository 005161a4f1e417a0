using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Security;

/// <summary>A payload as the event log may show it.</summary>
public sealed record RedactedJson(string Json, bool Redacted);

/// <summary>Masks the values of fields whose names look like secrets, at any depth.</summary>
public sealed class PayloadRedactor
{
    public const string Mask = "[REDACTED]";
    private readonly string[] _words;

    public PayloadRedactor(IOptions<SecurityOptions> options)
    {
        _words = options.Value.RedactedFieldNames
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(Normalize)
            .Where(w => w.Length > 0)
            .Distinct(StringComparer.Ordinal)
            .ToArray();
    }

    public bool IsSensitive(string fieldName)
    {
        var name = Normalize(fieldName);
        return _words.Any(w => name.Contains(w, StringComparison.Ordinal));
    }

    public RedactedJson Redact(string json)
    {
        var node = JsonNode.Parse(json);
        var redacted = Walk(node);
        return redacted ? new RedactedJson(node!.ToJsonString(), true) : new RedactedJson(json, false);
    }

    private bool Walk(JsonNode? node)
    {
        var redacted = false;
        switch (node)
        {
            case JsonObject obj:
                foreach (var name in obj.Select(p => p.Key).ToList())
                {
                    if (IsSensitive(name))
                    {
                        obj[name] = Mask;
                        redacted = true;
                    }
                    else
                    {
                        redacted |= Walk(obj[name]);
                    }
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    redacted |= Walk(item);
                }

                break;
        }

        return redacted;
    }

    private static string Normalize(string name) =>
        new(name.Where(char.IsLetterOrDigit).Select(char.ToLowerInvariant).ToArray());
}
