using System.Text.Json;
using System.Text.Json.Nodes;
using AgentRuns.Functions.Tests.Support;
using AgentRuns.Testing.Contract;
using static AgentRuns.Functions.Tests.Support.RunAssertions;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>
/// Every <c>/v1</c> route of the OpenAPI document, driven with what a careless or hostile client sends: each body member
/// (to two levels) replaced by every JSON kind, huge and deep values, each query parameter and header with odd text, odd path
/// ids. Hand-written cases (<see cref="HostileInputTests"/>) pin exact statuses; this one reads the routes and their request
/// schemas from the document, so a route or member added later is covered too. None may answer 5xx or a response the document
/// does not describe (the test client checks each one), every 4xx is problem+json with a reason_code, and a refused request
/// leaves the run it named as it was.
/// </summary>
public sealed class RouteFuzzTests
{
    private static readonly string[] Values =
    [
        "null", "true", "0", "-1", "1.5", "1e400", "\"\"", "\"x\"", "[]", "{}", "[null]", "{\"\":null}",
        JsonSerializer.Serialize(new string('x', 40_000)),
        string.Concat(Enumerable.Repeat("[", 300)) + string.Concat(Enumerable.Repeat("]", 300)),
        "\"\\ud800\"", "\"\\u0000\"", "\"<img src=x onerror=alert(1)>\"", "\"2026-13-45T25:61:61Z\"", "9223372036854775808",
    ];

    private static readonly string[] QueryValues =
    [
        "", "abc", "-1", "0", "1e3", "99999999999999999999", "%00", "%ZZ", "1%20", new string('9', 5000), "pending&{0}=1",
    ];

    private static readonly string[] OddIds =
    [
        "x", new string('a', 200), "..%2F..", "run_%C3%BC", "a%20b", "'or'1'eq'1", "%ZZ", "run_" + new string('a', 26) + "%0A",
        "%F0%9F%98%80", "CON", "*",
    ];

    [Fact]
    public async Task EveryRoute_WithHostileBodiesQueriesHeadersAndIds_AnswersAsDocumented_NeverA5xx_AndRefusalsChangeNothing()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        using var document = JsonDocument.Parse(await File.ReadAllTextAsync(OpenApiPath()));
        var failures = new List<string>();
        var sent = 0;

        var webhookId = (await api.PostAsync("/v1/webhooks", """{"url":"https://93.184.215.14/fuzz"}""")).Json.GetProperty("id").GetString()!;
        var workerName = "fuzz-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(201, (await api.PostAsync("/v1/workers", $$"""{"name":"{{workerName}}","url":"https://93.184.215.14/w"}""")).Status);
        foreach (var (method, template, operation) in Routes(document.RootElement))
        {
            // A fresh run per route, waiting for a typed answer, so one route's accepted requests do not blunt the next's.
            var runId = await api.CreateRunAsync(Plan(
                """{"type":"data","prompt":"Who?","response_schema":{"type":"object","required":["who"],"properties":{"who":{"type":"string"}}}}"""));
            var requestId = Value(await api.WaitForEventAsync(runId, "run.awaiting_input")).GetProperty("request_id").GetString()!;
            if (template.EndsWith("/events/stream", StringComparison.Ordinal))
            {
                // A stream of a waiting run stays open; one of an ended run replays and ends, which is what this test needs.
                await api.PostAsync($"/v1/runs/{runId}/cancel", null);
                await api.WaitForEndAsync(runId);
            }

            var ids = new Dictionary<string, string>
            {
                ["id"] = template.StartsWith("/v1/webhooks", StringComparison.Ordinal) ? webhookId : runId,
                ["request_id"] = requestId,
                ["name"] = workerName,
            };
            foreach (var (path, body, headers) in Variants(document.RootElement, method, template, operation, ids))
            {
                var before = await SnapshotAsync(api, runId);
                ApiResponse response;
                try
                {
                    response = await api.SendAsync(method, path, body, headers);
                }
                catch (ApiContractViolationException ex)
                {
                    failures.Add($"{method} {Short(path)} {Short(body)}: not as documented: {ex.Message}");
                    continue;
                }

                sent++;
                if (response.Status >= 500)
                {
                    failures.Add($"{method} {Short(path)} {Short(body)}: {response.Status} {Short(response.Body)}");
                }
                else if (response.Status >= 400)
                {
                    if (!response.ContentType.StartsWith("application/problem+json", StringComparison.Ordinal) || response.ReasonCode is null)
                    {
                        failures.Add($"{method} {Short(path)} {Short(body)}: {response.Status} without a problem reason_code");
                    }
                    else if (IsSettled(before) && await SnapshotAsync(api, runId) != before)
                    {
                        failures.Add($"{method} {Short(path)} {Short(body)}: refused ({response.Status} {response.ReasonCode}) yet the run changed");
                    }
                }
            }
        }

        Assert.True(sent >= 600, $"only {sent} requests were sent: the document's routes were not all read");
        Assert.True(failures.Count == 0, $"{failures.Count} of {sent} requests:\n" + string.Join("\n", failures));
    }

    /// <summary>The document's <c>/v1</c> operations (the console and the document itself are static files, tested elsewhere).</summary>
    private static IEnumerable<(string Method, string Template, JsonElement Operation)> Routes(JsonElement document)
    {
        foreach (var path in document.GetProperty("paths").EnumerateObject().Where(p => p.Name.StartsWith("/v1/", StringComparison.Ordinal)))
        {
            foreach (var operation in path.Value.EnumerateObject().Where(o => o.Name is "get" or "post" or "delete"))
            {
                yield return (operation.Name.ToUpperInvariant(), path.Name, operation.Value);
            }
        }
    }

    private static IEnumerable<(string Path, string? Body, Dictionary<string, string>? Headers)> Variants(
        JsonElement document, string method, string template, JsonElement operation, Dictionary<string, string> ids)
    {
        string PathWith(Func<string, string> id) =>
            System.Text.RegularExpressions.Regex.Replace(template, "\\{(\\w+)\\}", m => id(m.Groups[1].Value));

        var path = PathWith(name => ids[name]);
        var body = method == "POST" ? ValidBody(template) : null;

        // Odd ids, one path parameter at a time.
        foreach (var name in System.Text.RegularExpressions.Regex.Matches(template, "\\{(\\w+)\\}").Select(m => m.Groups[1].Value))
        {
            foreach (var odd in OddIds)
            {
                yield return (PathWith(n => n == name ? odd : ids[n]), body, null);
            }
        }

        // Each query parameter the operation documents, with odd text.
        foreach (var name in Parameters(document, operation).Where(p => p.In == "query").Select(p => p.Name))
        {
            foreach (var value in QueryValues)
            {
                yield return ($"{path}?{name}={value.Replace("{0}", name, StringComparison.Ordinal)}", body, null);
            }
        }

        // Each header it documents.
        foreach (var name in Parameters(document, operation).Where(p => p.In == "header").Select(p => p.Name))
        {
            foreach (var value in new[] { "", new string('k', 300), "a\u0001b", "-1", "abc", "99999999999999999999" })
            {
                yield return (path, body, new Dictionary<string, string> { [name] = value });
            }
        }

        if (body is null)
        {
            yield break;
        }

        // The body: not an object at all, then each member (and each member of an object member) as every kind of value.
        foreach (var whole in new[] { "", "null", "[]", "\"x\"", "{", "{\"a\":1,}", "{\"a\":1}{}", body + body })
        {
            yield return (path, whole, null);
        }

        var valid = JsonNode.Parse(body)!.AsObject();
        var schema = Resolve(document, operation.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema"));
        foreach (var (pointer, _) in Members(document, schema, ""))
        {
            foreach (var value in Values)
            {
                yield return (path, With(valid, pointer, value), null);
            }
        }
    }

    /// <summary>A body each route accepts, which the variants change one member at a time.</summary>
    private static string ValidBody(string template) => template switch
    {
        "/v1/runs" => """{"input":{"goal":"g","plan":[{"type":"data","prompt":"Who?"}]},"metadata":{"k":"v"},"signal_timeout_seconds":60,"agent":"scripted"}""",
        "/v1/runs/{id}/signal" => """{"action":"submit_input","payload":{"who":"Dana"},"request_id":"r"}""",
        "/v1/runs/{id}/cancel" => """{"reason":"no longer needed"}""",
        "/v1/runs/{id}/requests/{request_id}/extend" => """{"extend_by_seconds":60}""",
        "/v1/webhooks" => """{"url":"https://93.184.215.14/fuzz","events":["run.awaiting_input"]}""",
        "/v1/workers" => """{"name":"fuzzed","url":"https://93.184.215.14/w"}""",
        _ => "{}",
    };

    /// <summary>The JSON pointers of a schema's members, to two levels, with the member's schema.</summary>
    private static IEnumerable<(string Pointer, JsonElement Schema)> Members(JsonElement document, JsonElement schema, string prefix)
    {
        if (!schema.TryGetProperty("properties", out var properties))
        {
            yield break;
        }

        foreach (var member in properties.EnumerateObject())
        {
            var pointer = prefix + "/" + member.Name;
            yield return (pointer, member.Value);
            if (prefix.Length == 0)
            {
                foreach (var inner in Members(document, Resolve(document, member.Value), pointer))
                {
                    yield return inner;
                }
            }
        }
    }

    private static string With(JsonObject valid, string pointer, string value)
    {
        var copy = valid.DeepClone().AsObject();
        var names = pointer.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var parent = copy;
        foreach (var name in names[..^1])
        {
            if (parent[name] is not JsonObject child)
            {
                child = [];
                parent[name] = child;
            }

            parent = child;
        }

        // Spliced in as text: some of these values (a lone surrogate, 1e400) do not survive a JsonNode.
        const string Marker = "\"__fuzz__\"";
        parent[names[^1]] = "__fuzz__";
        return copy.ToJsonString().Replace(Marker, value, StringComparison.Ordinal);
    }

    private static JsonElement Resolve(JsonElement document, JsonElement schema)
    {
        while (schema.TryGetProperty("$ref", out var reference))
        {
            var node = document;
            foreach (var part in reference.GetString()!.TrimStart('#', '/').Split('/'))
            {
                node = node.GetProperty(part);
            }

            schema = node;
        }

        return schema;
    }

    private static IEnumerable<(string Name, string In)> Parameters(JsonElement document, JsonElement operation) =>
        operation.TryGetProperty("parameters", out var parameters)
            ? parameters.EnumerateArray().Select(p => Resolve(document, p)).Select(p => (p.GetProperty("name").GetString()!, p.GetProperty("in").GetString()!))
            : [];

    private static string OpenApiPath()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "src", "Functions", "OpenApi", "openapi.json");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("src/Functions/OpenApi/openapi.json not found above the test's folder.");
    }

    private static async Task<string> SnapshotAsync(ApiClient api, string runId)
    {
        var run = (await api.GetAsync($"/v1/runs/{runId}")).Json;
        return $"{run.GetProperty("status")}:{run.GetProperty("last_event_seq")}:{run.GetProperty("updated_at")}";
    }

    /// <summary>A run that is not moving by itself (an accepted answer earlier on sets it running for a while).</summary>
    private static bool IsSettled(string snapshot) =>
        snapshot.Split(':')[0] is "awaiting_input" or "succeeded" or "failed" or "cancelled";

    private static string Short(string? text) => text is null ? "" : text.Length <= 120 ? text : text[..120] + "…";
}
