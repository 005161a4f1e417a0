using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using AgentRuns.Functions.Model;
using AgentRuns.Testing.Contract;
using Json.Schema;
using Microsoft.OpenApi;

namespace AgentRuns.Functions.Tests.Deployment;

/// <summary>
/// The OpenAPI document (src/Functions/OpenApi/openapi.json) cannot drift from the app: it lists exactly the app's HTTP
/// routes, it is a valid OpenAPI 3.1 document whose schemas all build and resolve, and its lists of statuses, event types,
/// actions and reason codes are the app's.
/// </summary>
public sealed partial class OpenApiDocumentTests
{
    private static readonly ApiContract Contract = ApiContract.Default;

    [Fact]
    public void TheDocumentListsEveryRouteOfTheApp_AndNoOther()
    {
        var app = HttpRoutesOfFunctionsMetadata();
        var documented = DocumentedRoutes();

        Assert.True(app.Count >= 13, $"only {app.Count} HTTP routes in functions.metadata");
        Assert.True(app.Except(documented).Order().ToList() is { Count: 0 }, "Routes of the app missing from openapi.json (add a path item under 'paths'): " +
            string.Join(", ", app.Except(documented).Order()));
        Assert.True(documented.Except(app).Order().ToList() is { Count: 0 }, "Routes in openapi.json that the app does not serve: " +
            string.Join(", ", documented.Except(app).Order()));
    }

    [Fact]
    public void TheDocumentIsValidOpenApi31_WithoutErrorsOrWarnings()
    {
        Assert.Equal(OpenApiSpecVersion.OpenApi3_1, Contract.Diagnostic.SpecificationVersion);
        Assert.Empty(Contract.Diagnostic.Errors.Select(e => $"{e.Pointer}: {e.Message}"));
        Assert.Empty(Contract.Diagnostic.Warnings.Select(e => $"{e.Pointer}: {e.Message}"));
        Assert.Equal("https://json-schema.org/draft/2020-12/schema", Contract.Raw.GetProperty("jsonSchemaDialect").GetString());
        var operationIds = Operations().Select(o => o.Operation.GetProperty("operationId").GetString()).ToList();
        Assert.Equal(operationIds.Count, operationIds.Distinct().Count());
    }

    [Fact]
    public void EveryReference_Resolves_AndEverySchema_Builds()
    {
        var references = new List<string>();
        Collect(Contract.Raw, references);
        Assert.NotEmpty(references);
        Assert.All(references, r =>
        {
            Assert.StartsWith("#/", r, StringComparison.Ordinal);
            Assert.True(Contract.At(r[1..]) is not null, $"{r} does not resolve");
        });

        foreach (var schema in Contract.Raw.GetProperty("components").GetProperty("schemas").EnumerateObject())
        {
            // Evaluating builds the schema and every schema it references.
            var ex = Record.Exception(() => Contract.Evaluate($"/components/schemas/{schema.Name}", JsonDocument.Parse("null").RootElement, schema.Name));
            Assert.True(ex is null or ApiContractViolationException, $"{schema.Name}: {ex}");
        }
    }

    [Fact]
    public void EveryOperation_DocumentsItsFailures()
    {
        foreach (var (template, method, operation) in Operations())
        {
            var statuses = operation.GetProperty("responses").EnumerateObject().Select(r => r.Name).ToHashSet();
            var secured = !operation.TryGetProperty("security", out var security) || security.GetArrayLength() > 0;
            var what = $"{method.ToUpperInvariant()} {template}";
            if (secured)
            {
                // Every route behind a key goes through ApiEndpoint: a malformed request, a refused key, storage out, a failure.
                Assert.True(new[] { "400", "401", "500", "503" }.All(statuses.Contains), $"{what} documents {string.Join(",", statuses)}");
            }

            if (template.Contains("{id}", StringComparison.Ordinal))
            {
                Assert.True(statuses.Contains("404"), $"{what} has no 404");
            }

            if (method == "post")
            {
                Assert.True(new[] { "409", "413", "415", "422" }.All(statuses.Contains), $"{what} (idempotent POST) documents {string.Join(",", statuses)}");
            }
        }
    }

    [Fact]
    public void ReasonCodes_AreTheAppsReasonCodes()
    {
        var documented = Strings(Contract.At("/components/schemas/ReasonCode/enum")!.Value);
        var described = Contract.At("/components/schemas/ReasonCode/x-enum-descriptions")!.Value.EnumerateObject().Select(p => p.Name);

        Assert.Equal(Constants(typeof(ReasonCodes)).Order(), documented.Order());
        Assert.Equal(documented.Order(), described.Order());
    }

    [Fact]
    public void RunReasonCodes_Statuses_EventTypes_AndActions_AreTheApps()
    {
        Assert.Equal(Constants(typeof(RunReasonCodes)).Order(),
            Contract.At("/components/schemas/RunReasonCode/x-known-values")!.Value.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(RunStatus.All.Order(), Strings(Contract.At("/components/schemas/RunStatus/enum")!.Value).Order());
        Assert.Equal(RunEventTypes.All, Strings(Contract.At("/components/schemas/RunEventType/enum")!.Value));
        Assert.Equal(SignalActions.All, Strings(Contract.At("/components/schemas/SignalAction/enum")!.Value));
        Assert.Equal(
            RunEventTypes.All.Order(),
            Contract.At("/components/schemas/RunEvent/discriminator/mapping")!.Value.EnumerateObject().Select(p => p.Name).Order());
    }

    [Fact]
    public void TheDocumentChecksResponses_AndRefusesWhatItDoesNotDescribe()
    {
        const string run = "/v1/runs/run_0000000000aaaaaaaaaaaaaaaa";
        var problem = """{"type":"/errors/run_not_found","title":"Run not found","status":404,"detail":"d","reason_code":"run_not_found"}""";
        Contract.Check("GET", run, 404, "application/problem+json", _ => null, problem);

        // A status the operation does not list; a reason code it does not answer with; a member the schema does not have.
        Assert.Throws<ApiContractViolationException>(() => Contract.Check("GET", run, 409, "application/problem+json", _ => null, problem));
        Assert.Throws<ApiContractViolationException>(() =>
            Contract.Check("GET", run, 404, "application/problem+json", _ => null, problem.Replace("run_not_found", "not_found", StringComparison.Ordinal)));
        Assert.Throws<ApiContractViolationException>(() =>
            Contract.Check("GET", "/health", 200, "application/json", _ => null, """{"status":"ok","extra":1}"""));
        // A path nobody serves must answer the documented 404; a 401 must say WWW-Authenticate.
        Assert.Throws<ApiContractViolationException>(() => Contract.Check("GET", "/nope", 200, "application/json", _ => null, "{}"));
        Assert.Throws<ApiContractViolationException>(() => Contract.Check("GET", "/v1/runs", 401, "application/problem+json", _ => null,
            """{"type":"/errors/unauthorized","title":"Unauthorized","status":401,"detail":"d","reason_code":"unauthorized"}"""));
        // The console's catch-all route serves /console itself and any file under it.
        Assert.Equal("/console/{path}", Contract.FindTemplate("GET", "/console"));
        Assert.Equal("/console/{path}", Contract.FindTemplate("GET", "/console/js/app.js"));
        Assert.Equal("/v1/runs/{id}/events/stream", Contract.FindTemplate("GET", "/v1/runs/run_x/events/stream"));
    }

    [Fact]
    public void EachEventType_HasItsValueSchema()
    {
        var awaiting = """{"seq":3,"type":"run.awaiting_input","timestamp":"2026-03-26T14:35:01.000Z","payload":{"redacted":false,"value":{"request_id":"0b0c6f4e-4a4b-4f6e-9d7e-0a1b2c3d4e5f","reason_code":"AWAITING_APPROVAL","input_kind":"approval","prompt":"p","allowed_actions":["approve"],"expires_at":"2026-03-26T15:35:01.000Z","proposed_action":null,"response_schema":null,"allow_edits":false,"timeout_seconds":3600,"reminders":[]}}}""";
        Contract.Evaluate("/components/schemas/RunEvent", JsonDocument.Parse(awaiting).RootElement, "awaiting");

        // The same value under another type does not pass.
        Assert.Throws<ApiContractViolationException>(() => Contract.Evaluate(
            "/components/schemas/RunEvent", JsonDocument.Parse(awaiting.Replace("run.awaiting_input", "run.started", StringComparison.Ordinal)).RootElement, "started"));
    }

    /// <summary>"GET v1/runs/{}" for every HTTP trigger of the generated functions.metadata (a catch-all parameter as "{*}").</summary>
    private static HashSet<string> HttpRoutesOfFunctionsMetadata()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "functions.metadata");
        Assert.True(File.Exists(path), $"{path} is missing: the Functions SDK generates it when src/Functions builds.");
        using var metadata = JsonDocument.Parse(File.ReadAllText(path));
        var routes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var function in metadata.RootElement.EnumerateArray())
        {
            foreach (var binding in function.GetProperty("bindings").EnumerateArray())
            {
                if (!string.Equals(binding.GetProperty("type").GetString(), "httpTrigger", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                var route = binding.GetProperty("route").GetString()!;
                foreach (var method in binding.GetProperty("methods").EnumerateArray())
                {
                    routes.Add($"{method.GetString()!.ToUpperInvariant()} {Normalize(route)}");
                }
            }
        }

        return routes;
    }

    private static HashSet<string> DocumentedRoutes()
    {
        var routes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (template, method, operation) in Operations())
        {
            var route = template.TrimStart('/');
            foreach (var parameter in operation.TryGetProperty("parameters", out var p) ? p.EnumerateArray() : default)
            {
                if (parameter.TryGetProperty("x-catch-all", out var catchAll) && catchAll.ValueKind == JsonValueKind.True)
                {
                    route = route.Replace("{" + parameter.GetProperty("name").GetString() + "}", "{*" + parameter.GetProperty("name").GetString() + "}", StringComparison.Ordinal);
                }
            }

            routes.Add($"{method.ToUpperInvariant()} {Normalize(route)}");
        }

        return routes;
    }

    private static IEnumerable<(string Template, string Method, JsonElement Operation)> Operations() =>
        Contract.Raw.GetProperty("paths").EnumerateObject().SelectMany(path => path.Value.EnumerateObject()
            .Where(o => o.Name is "get" or "put" or "post" or "delete" or "patch" or "head" or "options" or "trace")
            .Select(o => (path.Name, o.Name, o.Value)));

    /// <summary>Parameter names do not matter (the app says {requestId}, the document {request_id}); a catch-all does.</summary>
    private static string Normalize(string route) => Parameter().Replace(route.Trim('/'), m => m.Groups[1].Value == "*" ? "{*}" : "{}");

    private static void Collect(JsonElement element, List<string> references)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var member in element.EnumerateObject())
                {
                    if (member.Name == "$ref")
                    {
                        references.Add(member.Value.GetString()!);
                    }
                    else if (member.Name == "mapping")
                    {
                        references.AddRange(member.Value.EnumerateObject().Select(m => m.Value.GetString()!));
                    }
                    else
                    {
                        Collect(member.Value, references);
                    }
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    Collect(item, references);
                }

                break;
        }
    }

    private static List<string> Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];

    private static List<string> Constants(Type type) =>
        [.. type.GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral && f.FieldType == typeof(string)).Select(f => (string)f.GetRawConstantValue()!)];

    [GeneratedRegex(@"\{(\*?)[A-Za-z_][A-Za-z0-9_]*\}")]
    private static partial Regex Parameter();
}
