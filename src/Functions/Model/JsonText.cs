using System.Text;
using System.Text.Json;

namespace AgentRuns.Functions.Model;

/// <summary>
/// Builds JSON text in the API's conventions (<see cref="ApiJson.Encoder"/>), embedding stored JSON verbatim: the one way
/// event values, pending requests and outputs are written, so no value is ever re-escaped on its way to storage.
/// </summary>
public static class JsonText
{
    public static string Object(Action<Utf8JsonWriter> writeMembers)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, ApiJson.WriterOptions))
        {
            writer.WriteStartObject();
            writeMembers(writer);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>Writes <paramref name="json"/> (valid JSON text, or null) under <paramref name="name"/> exactly as it is.</summary>
    public static void WriteRaw(this Utf8JsonWriter writer, string name, string? json)
    {
        writer.WritePropertyName(name);
        if (json is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            writer.WriteRawValue(json, skipInputValidation: true);
        }
    }

    public static void WriteTimestamp(this Utf8JsonWriter writer, string name, DateTimeOffset value) =>
        writer.WriteString(name, ApiJson.FormatTimestamp(value));

    public static void WriteStrings(this Utf8JsonWriter writer, string name, IEnumerable<string> values)
    {
        writer.WriteStartArray(name);
        foreach (var value in values)
        {
            writer.WriteStringValue(value);
        }

        writer.WriteEndArray();
    }

    /// <summary>The text of a string member of a JSON object, or null.</summary>
    public static string? StringMember(string json, string name)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.ValueKind == JsonValueKind.Object
            && document.RootElement.TryGetProperty(name, out var value)
            && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
    }
}
