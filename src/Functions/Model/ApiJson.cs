using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace AgentRuns.Functions.Model;

/// <summary>
/// The JSON conventions of the public API: snake_case names, UTC timestamps with milliseconds and Z, and text written as
/// it is (no <c>\uXXXX</c> for non-ASCII or <c>&lt; &gt; &amp; ' +</c>: responses are JSON, never HTML, and stored values
/// must not grow up to six times on their way to a table).
/// </summary>
public static class ApiJson
{
    /// <summary>Escapes only what JSON requires (quotes, backslashes, control characters).</summary>
    public static readonly JavaScriptEncoder Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    public static readonly JsonSerializerOptions Options = Create();

    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = Encoder };

    /// <summary>Reader limits for request bodies: deep nesting is refused rather than walked.</summary>
    public static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 32, AllowDuplicateProperties = false };

    public static string FormatTimestamp(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>Parses stored JSON text into an element that outlives its document.</summary>
    public static JsonElement ParseElement(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.Clone();
    }

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    /// <summary>JSON allows escapes like \ud800 that are not text; reading them later would throw, so refuse them where JSON comes in.</summary>
    public static bool HasValidText(JsonElement element)
    {
        try
        {
            return Walk(element);
        }
        catch (InvalidOperationException)
        {
            return false;
        }

        static bool Walk(JsonElement e)
        {
            switch (e.ValueKind)
            {
                case JsonValueKind.String:
                    _ = e.GetString();
                    return true;
                case JsonValueKind.Object:
                    foreach (var p in e.EnumerateObject())
                    {
                        _ = p.Name;
                        if (!Walk(p.Value))
                        {
                            return false;
                        }
                    }

                    return true;
                case JsonValueKind.Array:
                    foreach (var item in e.EnumerateArray())
                    {
                        if (!Walk(item))
                        {
                            return false;
                        }
                    }

                    return true;
                default:
                    return true;
            }
        }
    }

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            DictionaryKeyPolicy = null,
            Encoder = Encoder,
        };
        options.Converters.Add(new TimestampConverter());
        options.Converters.Add(new RawJsonConverter());
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }

    private sealed class TimestampConverter : JsonConverter<DateTimeOffset>
    {
        public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            DateTimeOffset.Parse(reader.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

        public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
            writer.WriteStringValue(FormatTimestamp(value));
    }

    private sealed class RawJsonConverter : JsonConverter<RawJson>
    {
        public override RawJson Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            using var document = JsonDocument.ParseValue(ref reader);
            return new RawJson(document.RootElement.GetRawText());
        }

        public override void Write(Utf8JsonWriter writer, RawJson value, JsonSerializerOptions options) =>
            writer.WriteRawValue(value.Text, skipInputValidation: true);
    }
}

/// <summary>
/// JSON text that was validated once (a client's body, or text this service wrote) and is written out exactly as it is:
/// what a client sent comes back byte for byte.
/// </summary>
public readonly record struct RawJson(string Text)
{
    public static RawJson? OrNull(string? text) => text is null ? null : new RawJson(text);

    public override string ToString() => Text;
}
