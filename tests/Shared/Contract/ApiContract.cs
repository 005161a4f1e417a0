using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Json.Schema;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;

namespace AgentRuns.Testing.Contract;

/// <summary>A response that the OpenAPI document does not describe: the test that received it fails.</summary>
public sealed class ApiContractViolationException(string message) : Exception(message);

/// <summary>
/// The API's OpenAPI document (<c>openapi/openapi.json</c> of the app's output, the file <c>GET /openapi.json</c> serves), read
/// with Microsoft.OpenApi, and every response a test receives checked against it: the operation (method and path) must be
/// documented, or the response must be the document's <c>NotFound</c>; the status must be one the operation lists; the content
/// type one it lists for that status; its required headers present and well-formed; and the body must match the JSON Schema of
/// that content, evaluated with JsonSchema.Net (2020-12, with every <c>$ref</c> resolved inside the document). A stream's
/// messages are checked one by one, and each message's <c>data</c> against its <c>contentSchema</c>.
/// </summary>
public sealed class ApiContract
{
    private static readonly Uri DocumentUri = new("https://agent-runs.invalid/openapi.json");
    private static readonly Lazy<ApiContract> Shipped = new(() => Load(Path.Combine(AppContext.BaseDirectory, "openapi", "openapi.json")));
    private readonly ConcurrentDictionary<string, JsonSchema> _schemas = new(StringComparer.Ordinal);
    private readonly BuildOptions _buildOptions;
    private readonly List<(string Template, string[] Segments)> _paths;

    private ApiContract(string json, OpenApiDocument document, OpenApiDiagnostic diagnostic)
    {
        Json = json;
        Document = document;
        Diagnostic = diagnostic;
        Raw = JsonDocument.Parse(json).RootElement.Clone();
        var registry = new SchemaRegistry();
        registry.Register(new JsonElementBaseDocument(Raw, DocumentUri));
        _buildOptions = new BuildOptions { Dialect = Dialect.Draft202012, SchemaRegistry = registry };
        _paths = [.. Raw.GetProperty("paths").EnumerateObject().Select(p => (p.Name, p.Name.Trim('/').Split('/')))];
    }

    /// <summary>The document the app in this test's output serves.</summary>
    public static ApiContract Default => Shipped.Value;

    public string Json { get; }

    public OpenApiDocument Document { get; }

    public OpenApiDiagnostic Diagnostic { get; }

    public JsonElement Raw { get; }

    public static ApiContract Load(string path)
    {
        var json = File.ReadAllText(path);
        var (document, diagnostic) = OpenApiDocument.Parse(json, "json");
        if (document is null || diagnostic is null || diagnostic.Errors.Count > 0)
        {
            throw new InvalidOperationException($"{path} is not a valid OpenAPI document: " +
                string.Join("; ", diagnostic?.Errors.Select(e => $"{e.Pointer}: {e.Message}") ?? []));
        }

        return new ApiContract(json, document, diagnostic);
    }

    /// <summary>The documented operation a request reaches: its path template, or null when none is documented.</summary>
    public string? FindTemplate(string method, string path)
    {
        var segments = path.Split('?', 2)[0].Trim('/').Split('/');
        string? best = null;
        var bestLiterals = -1;
        foreach (var (template, parts) in _paths)
        {
            if (Matches(template, parts, segments) is { } literals && literals > bestLiterals && Operation(template, method) is not null)
            {
                best = template;
                bestLiterals = literals;
            }
        }

        return best;
    }

    /// <summary>The Microsoft.OpenApi operation of a documented path and method, or null.</summary>
    public OpenApiOperation? Operation(string template, string method) =>
        Document.Paths.TryGetValue(template, out var item) && item.Operations is { } operations
            && operations.TryGetValue(new HttpMethod(method.ToUpperInvariant()), out var operation)
            ? operation
            : null;

    /// <summary>
    /// Checks a complete response. A <c>text/event-stream</c> body is checked message by message with
    /// <see cref="CheckStreamMessage"/> as it is read, so <paramref name="body"/> is ignored for it.
    /// </summary>
    /// <returns>The JSON pointer of the content's schema, for a stream's messages.</returns>
    public string? Check(string method, string path, int status, string? mediaType, Func<string, string?> header, string body)
    {
        var what = $"{method} {path} → {status}";
        var template = FindTemplate(method, path);
        string responsePointer;
        IOpenApiResponse response;
        if (template is null)
        {
            // Not described: the service must answer with the document's NotFound.
            if (status != 404)
            {
                throw Violation($"{what}: no operation is documented for {method} {path}, and the answer is not the documented 404.");
            }

            responsePointer = "/components/responses/NotFound";
            response = Document.Components!.Responses!["NotFound"];
        }
        else
        {
            var operation = Operation(template, method)!;
            var code = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (operation.Responses is null || !operation.Responses.TryGetValue(code, out var documented))
            {
                throw Violation($"{what}: status {status} is not documented for {method} {template} (documented: " +
                    string.Join(", ", operation.Responses?.Keys.ToList() ?? []) + $"). Body: {Short(body)}");
            }

            response = documented;
            responsePointer = Follow($"/paths/{Escape(template)}/{method.ToLowerInvariant()}/responses/{code}");
        }

        foreach (var (name, documentedHeader) in response.Headers ?? new Dictionary<string, IOpenApiHeader>())
        {
            var value = header(name);
            if (value is null)
            {
                if (documentedHeader.Required)
                {
                    throw Violation($"{what}: the required header {name} is missing.");
                }

                continue;
            }

            var headerSchema = Follow($"{responsePointer}/headers/{Escape(name)}") + "/schema";
            if (At(headerSchema) is not null)
            {
                Evaluate(headerSchema, JsonSerializer.SerializeToElement(value), $"{what}: header {name}");
            }
        }

        var content = response.Content;
        if (content is null || content.Count == 0)
        {
            return body.Length == 0 ? null : throw Violation($"{what}: no body is documented, yet one came: {Short(body)}");
        }

        var media = content.Keys.FirstOrDefault(k => string.Equals(k, mediaType, StringComparison.OrdinalIgnoreCase))
            ?? throw Violation($"{what}: content type '{mediaType}' is not documented (documented: {string.Join(", ", content.Keys)}). Body: {Short(body)}");
        var schemaPointer = $"{responsePointer}/content/{Escape(media)}/schema";
        if (media == "text/event-stream")
        {
            return schemaPointer;
        }

        if (media.EndsWith("json", StringComparison.Ordinal))
        {
            JsonElement instance;
            try
            {
                instance = JsonDocument.Parse(body).RootElement.Clone();
            }
            catch (JsonException ex)
            {
                throw Violation($"{what}: the body is not JSON ({ex.Message}): {Short(body)}");
            }

            Evaluate(schemaPointer, instance, what);
        }

        return schemaPointer;
    }

    /// <summary>One message of an event stream: its fields against the message schema, its data against the data's <c>contentSchema</c>.</summary>
    public void CheckStreamMessage(string what, string schemaPointer, string? id, string? eventName, string data)
    {
        var message = new Dictionary<string, string?> { ["id"] = id, ["event"] = eventName, ["data"] = data }
            .Where(m => m.Value is not null)
            .ToDictionary(m => m.Key, m => m.Value);
        Evaluate(schemaPointer, JsonSerializer.SerializeToElement(message), $"{what}: stream message {id}");
        var messageSchema = Follow(schemaPointer);
        var contentSchema = $"{messageSchema}/properties/data/contentSchema";
        if (At(contentSchema) is not null)
        {
            JsonElement instance;
            try
            {
                instance = JsonDocument.Parse(data).RootElement.Clone();
            }
            catch (JsonException ex)
            {
                throw Violation($"{what}: stream message {id}: data is not JSON ({ex.Message}): {Short(data)}");
            }

            Evaluate(contentSchema, instance, $"{what}: stream message {id} data");
        }
    }

    /// <summary>Evaluates <paramref name="instance"/> against the schema at <paramref name="pointer"/> (a JSON pointer into the document).</summary>
    public void Evaluate(string pointer, JsonElement instance, string what)
    {
        var schema = _schemas.GetOrAdd(pointer, p => JsonSchema.FromText(
            $$"""{"$schema":"https://json-schema.org/draft/2020-12/schema","$ref":"{{DocumentUri}}#{{p.Replace("+", "%2B", StringComparison.Ordinal)}}"}""", _buildOptions));
        var result = schema.Evaluate(instance, new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (!result.IsValid)
        {
            var errors = (result.Details ?? [])
                .Where(d => d.Errors is { Count: > 0 })
                .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation} ({d.EvaluationPath}): {e.Value}"))
                .Take(12);
            throw Violation($"{what}: does not match {pointer}:\n  {string.Join("\n  ", errors)}\nBody: {Short(instance.GetRawText())}");
        }
    }

    /// <summary>The element at a JSON pointer of the document, or null.</summary>
    public JsonElement? At(string pointer)
    {
        var current = Raw;
        foreach (var token in pointer.Split('/').Skip(1))
        {
            var name = token.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(name, out current))
            {
                return null;
            }
        }

        return current;
    }

    /// <summary>The pointer of what <paramref name="pointer"/> is, following local <c>$ref</c>s.</summary>
    public string Follow(string pointer)
    {
        for (var hops = 0; hops < 16; hops++)
        {
            if (At(pointer) is { ValueKind: JsonValueKind.Object } element && element.TryGetProperty("$ref", out var target)
                && target.GetString() is { } reference && reference.StartsWith("#/", StringComparison.Ordinal))
            {
                pointer = reference[1..];
                continue;
            }

            return pointer;
        }

        throw new InvalidOperationException($"$ref loop at {pointer}");
    }

    public static string Escape(string token) => token.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

    /// <summary>How many literal segments of <paramref name="template"/> match, or null when it does not match the path. A
    /// last segment whose path parameter says <c>x-catch-all</c> matches the rest of the path, empty included.</summary>
    private int? Matches(string template, string[] parts, string[] segments)
    {
        var literals = 0;
        for (var i = 0; i < parts.Length; i++)
        {
            var part = parts[i];
            var isParameter = part.StartsWith('{') && part.EndsWith('}');
            if (isParameter && i == parts.Length - 1 && IsCatchAll(template, part[1..^1]))
            {
                return segments.Length >= parts.Length - 1 ? literals : null;
            }

            if (i >= segments.Length)
            {
                return null;
            }

            if (isParameter)
            {
                if (segments[i].Length == 0)
                {
                    return null;
                }
            }
            else if (!string.Equals(part, segments[i], StringComparison.OrdinalIgnoreCase)) // routes match as the router does: any case
            {
                return null;
            }
            else
            {
                literals++;
            }
        }

        return segments.Length == parts.Length ? literals : null;
    }

    private bool IsCatchAll(string template, string name) =>
        Raw.GetProperty("paths").GetProperty(template).EnumerateObject()
            .Where(o => o.Value.ValueKind == JsonValueKind.Object && o.Value.TryGetProperty("parameters", out _))
            .SelectMany(o => o.Value.GetProperty("parameters").EnumerateArray())
            .Any(p => p.TryGetProperty("name", out var n) && n.GetString() == name
                && p.TryGetProperty("x-catch-all", out var c) && c.ValueKind == JsonValueKind.True);

    private static ApiContractViolationException Violation(string message) => new(message);

    private static string Short(string body) => body.Length <= 600 ? body : body[..600] + "…";
}
