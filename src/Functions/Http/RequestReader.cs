using System.Text.Json;
using AgentRuns.Functions.Model;
using Microsoft.AspNetCore.Http;

namespace AgentRuns.Functions.Http;

/// <summary>Reads request bodies and query strings strictly: bounded size and depth, exact JSON types.</summary>
public static class RequestReader
{
    /// <summary>Largest accepted request body (<see cref="RunLimits.MaxBodyBytes"/>).</summary>
    public const int MaxBodyBytes = RunLimits.MaxBodyBytes;

    /// <summary>
    /// Reads the body as a JSON object. An empty body is <c>null</c> when <paramref name="optional"/>. A body declared as
    /// something other than JSON is refused (415); a body without a content type is read as JSON.
    /// </summary>
    public static async Task<JsonElement?> ReadObjectAsync(HttpRequest request, bool optional, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ContentLength > MaxBodyBytes)
        {
            throw TooLarge();
        }

        if (!string.IsNullOrWhiteSpace(request.ContentType) && !IsJson(request.ContentType))
        {
            throw ApiException.UnsupportedMediaType(request.ContentType);
        }

        var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                throw TooLarge();
            }

            buffer.Write(chunk, 0, read);
        }

        if (buffer.Length == 0 || IsWhitespace(buffer))
        {
            return optional ? null : throw ApiException.InvalidRequest("A JSON object body is required.");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(buffer.ToArray(), ApiJson.DocumentOptions);
        }
        catch (JsonException)
        {
            throw ApiException.InvalidRequest($"The body is not valid JSON (nesting is limited to {ApiJson.DocumentOptions.MaxDepth} levels).");
        }
        catch (InvalidOperationException)
        {
            // Comparing member names for duplicates unescapes them: a name that is not text (a lone surrogate escape) fails there.
            throw InvalidText();
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw ApiException.InvalidRequest("The body must be a JSON object.");
            }

            if (!ApiJson.HasValidText(document.RootElement))
            {
                throw InvalidText();
            }

            return document.RootElement.Clone();
        }
    }

    /// <summary>Fails on members other than <paramref name="allowed"/> so that typos are not silently ignored.</summary>
    public static void RejectUnknownMembers(JsonElement body, params string[] allowed)
    {
        foreach (var member in body.EnumerateObject())
        {
            if (!allowed.Contains(member.Name, StringComparer.Ordinal))
            {
                throw ApiException.InvalidRequest($"Unknown parameter '{Shorten(member.Name)}'. Allowed: {string.Join(", ", allowed)}.");
            }
        }
    }

    public static string? OptionalString(JsonElement body, string name, int maxLength)
    {
        if (!body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            throw ApiException.InvalidRequest($"'{name}' must be a string.");
        }

        var text = value.GetString()!;
        if (text.Length > maxLength)
        {
            throw ApiException.InvalidRequest($"'{name}' must be at most {maxLength} characters.");
        }

        return text;
    }

    public static JsonElement? OptionalObject(JsonElement body, string name)
    {
        if (!body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.Object
            ? value
            : throw ApiException.InvalidRequest($"'{name}' must be an object.");
    }

    public static int? OptionalInt(JsonElement body, string name, int min, int max)
    {
        if (!body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var number) || number < min || number > max)
        {
            throw ApiException.InvalidRequest($"'{name}' must be an integer from {min} to {max}.");
        }

        return number;
    }

    public static int QueryInt(HttpRequest request, string name, int defaultValue, int min, int max) =>
        (int)QueryLong(request, name, defaultValue, min, max);

    public static long QueryLong(HttpRequest request, string name, long defaultValue, long min, long max)
    {
        var raw = QueryValue(request, name);
        if (raw is null)
        {
            return defaultValue;
        }

        // NumberStyles.None still takes trailing NUL characters: only digits are a number here.
        return raw.Length is > 0 and <= 19 && raw.All(char.IsAsciiDigit)
            && long.TryParse(raw, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw ApiException.InvalidRequest($"Query parameter '{name}' must be an integer from {min} to {max}.");
    }

    /// <summary>The <c>Last-Event-ID</c> a reconnecting SSE client sends: the last seq it received.</summary>
    public static long? LastEventId(HttpRequest request)
    {
        var raw = request.Headers["Last-Event-ID"].ToString();
        if (string.IsNullOrEmpty(raw))
        {
            return null;
        }

        var text = raw.Trim();
        return text.Length is > 0 and <= 19 && text.All(char.IsAsciiDigit)
            && long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seq) && seq <= 9_999_999_999
            ? seq
            : throw ApiException.InvalidRequest("Last-Event-ID must be the seq of an event.");
    }

    public static string? QueryValue(HttpRequest request, string name)
    {
        if (!request.Query.TryGetValue(name, out var values) || values.Count == 0)
        {
            return null;
        }

        return values.Count == 1
            ? values[0]
            : throw ApiException.InvalidRequest($"Query parameter '{name}' was given more than once.");
    }

    /// <summary>Checks a run id from the path before it reaches a query.</summary>
    public static string RunId(string? id)
    {
        if (string.IsNullOrEmpty(id) || RunIds.IsMalformed(id))
        {
            throw ApiException.InvalidRequest("The run id is malformed: run ids look like 'run_' followed by letters and digits.");
        }

        return RunIds.IsWellFormed(id) ? id : throw ApiException.RunNotFound(id);
    }

    private static ApiException TooLarge() =>
        ApiException.PayloadTooLarge($"The request body must not exceed {MaxBodyBytes} bytes.");

    private static ApiException InvalidText() =>
        ApiException.InvalidRequest("The body contains text that is not valid Unicode (a lone surrogate escape).");

    /// <summary><c>application/json</c> or a <c>+json</c> type, with any parameters.</summary>
    private static bool IsJson(string contentType)
    {
        if (!Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var parsed))
        {
            return false;
        }

        var mediaType = parsed.MediaType.Value ?? "";
        var json = mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (mediaType.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase));

        // JSON is UTF-8 (RFC 8259): a body declared in another charset would be read wrongly, so it is refused, not guessed at.
        var charset = Microsoft.Net.Http.Headers.HeaderUtilities.RemoveQuotes(parsed.Charset).Value;
        return json && (string.IsNullOrEmpty(charset) || charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) || charset.Equals("utf8", StringComparison.OrdinalIgnoreCase));
    }

    private static bool IsWhitespace(MemoryStream buffer)
    {
        foreach (var b in buffer.GetBuffer().AsSpan(0, (int)buffer.Length))
        {
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
            {
                return false;
            }
        }

        return true;
    }

    private static string Shorten(string value) => value.Length <= 40 ? value : value[..40] + "…";
}
