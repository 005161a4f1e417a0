using System.Net;
using System.Text;
using AgentRuns.Functions.Agents;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Storage;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Tests.Unit;

/// <summary>Where the model comes from, who may use it, and how the model's calls map onto requests: without storage or a host.</summary>
public sealed class ModelAgentConfigurationTests
{
    [Fact]
    public void WithoutEndpointAndModel_TheModelAgentIsNotAvailable_AndSaysWhichSettingsToSet()
    {
        Assert.Contains("ModelAgent:Endpoint", new ModelAgentOptions().UnavailableBecause("t1"), StringComparison.Ordinal);
        Assert.NotNull(new ModelAgentOptions { Endpoint = "http://127.0.0.1:1/v1" }.UnavailableBecause("t1"));
        Assert.Null(new ModelAgentOptions { Endpoint = "http://127.0.0.1:1/v1", Model = "m" }.UnavailableBecause("t1"));
    }

    [Fact]
    public void TheTenantAllowList_LetsOnlyItsTenantsIn()
    {
        var options = new ModelAgentOptions { Endpoint = "http://127.0.0.1:1/v1", Model = "m", Tenants = " acme , globex" };

        Assert.Null(options.UnavailableBecause("acme"));
        Assert.Null(options.UnavailableBecause("globex"));
        Assert.Contains("not enabled for this tenant", options.UnavailableBecause("initech"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, null, true)]
    [InlineData("http://127.0.0.1:11434/v1", "llama", true)]
    [InlineData("https://example.openai.azure.com/", "gpt", true)]
    [InlineData("ftp://example.com", "m", false)]
    [InlineData("not a url", "m", false)]
    [InlineData("https://api.openai.com/v1", null, false)]
    public void TheSection_IsCheckedAtStart(string? endpoint, string? model, bool valid) =>
        Assert.Equal(valid, new ModelAgentOptions { Endpoint = endpoint, Model = model }.Problem() is null);

    [Theory]
    [InlineData("https://example.openai.azure.com/", null, true)]
    [InlineData("https://example.cognitiveservices.azure.com/", "", true)]
    [InlineData("https://example.openai.azure.com/", "key", false)]
    [InlineData("http://127.0.0.1:11434/v1", null, false)]
    [InlineData("https://api.openai.com/v1", null, false)]
    public void AzureOpenAi_WithoutAKey_UsesTheAppsIdentity_AnythingElseIsOpenAiCompatible(string endpoint, string? key, bool azure) =>
        Assert.Equal(azure, new ModelAgentOptions { Endpoint = endpoint, Model = "m", ApiKey = key }.UsesAzureIdentity);

    [Fact]
    public async Task AnOpenAiCompatibleEndpointWithoutKey_GetsChatCompletionsAtItsBaseUrl_WithNoAuthorizationHeader()
    {
        var recorder = new Recorder();
        var clients = new ModelChatClients(
            new OneClient(new HttpClient(recorder)),
            Options.Create(new ModelAgentOptions { Endpoint = "http://127.0.0.1:9/llm/v1", Model = "local-model" }),
            Options.Create(new RunStorageOptions()));

        var response = await clients.Create().GetResponseAsync([new ChatMessage(ChatRole.User, "hi")]);

        Assert.Equal("hello", response.Text);
        var request = Assert.Single(recorder.Requests);
        Assert.Equal("http://127.0.0.1:9/llm/v1/chat/completions", request.Uri);
        Assert.Null(request.Authorization);
        Assert.Contains("\"model\":\"local-model\"", request.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnOpenAiCompatibleEndpointWithAKey_SendsItAsBearer()
    {
        var recorder = new Recorder();
        var clients = new ModelChatClients(
            new OneClient(new HttpClient(recorder)),
            Options.Create(new ModelAgentOptions { Endpoint = "http://127.0.0.1:9/v1", Model = "m", ApiKey = "sk-test" }),
            Options.Create(new RunStorageOptions()));

        await clients.Create().GetResponseAsync([new ChatMessage(ChatRole.User, "hi")]);

        Assert.Equal("Bearer sk-test", Assert.Single(recorder.Requests).Authorization);
    }

    [Fact]
    public void AskHuman_NeedsAQuestion_DefaultsToClarification_AndDropsASchemaTheApiRefuses()
    {
        Assert.Null(AskHumanTool.ToRequest("""{"kind":"data"}""", out var missing, out _));
        Assert.Contains("question", missing, StringComparison.Ordinal);

        var clarification = AskHumanTool.ToRequest("""{"question":"Which list?","kind":"something else"}""", out _, out _);
        Assert.Equal((InputKinds.Clarification, "Which list?"), (clarification!.InputKind, clarification.Prompt));

        var data = AskHumanTool.ToRequest("""{"question":"Who?","kind":"data","response_schema":{"$schema":"http://json-schema.org/draft-07/schema#"}}""", out _, out var dropped);
        Assert.Equal(InputKinds.Data, data!.InputKind);
        Assert.Null(data.ResponseSchemaJson);
        Assert.NotNull(dropped);
    }

    [Fact]
    public void AnApproval_CarriesOutTheApprovedArguments_OnlyForTheCallItWasAskedFor()
    {
        var call = new ModelToolCall("call_1", "send_email", """{"to":"a@example.com"}""");
        var proposed = ModelHumanRequests.ProposedAction(call);
        var approved = new HumanAnswer("r1", InputKinds.Approval, SignalActions.Approve, null, proposed, null);
        var edited = new HumanAnswer(
            "r1", InputKinds.Approval, SignalActions.Approve, """{"arguments":{"to":"b@example.com"}}""",
            """{"tool":"send_email","tool_call_id":"call_1","arguments":{"to":"b@example.com"}}""", null);

        Assert.Equal(("""{"to":"a@example.com"}""", false), ModelHumanRequests.ApprovedArguments(approved, call));
        Assert.Equal(("""{"to":"b@example.com"}""", true), ModelHumanRequests.ApprovedArguments(edited, call));
        Assert.Throws<InvalidOperationException>(() => ModelHumanRequests.ApprovedArguments(approved, call with { Id = "call_2" }));
    }

    [Fact]
    public void AToolThatAllowsEdits_ButWhoseSchemaTheApiRefuses_IsAskedWithoutEdits_SoNoEditGoesUnchecked()
    {
        var checkable = new ModelTool(new ApprovalRequiredAIFunction(AIFunctionFactory.Create((string to) => to, "send")), AllowEdits: true);
        var unchecked_ = new ModelTool(new ApprovalRequiredAIFunction(new RefusedSchema(AIFunctionFactory.Create((string to) => to, "send"))), AllowEdits: true);
        var call = new ModelToolCall("call_1", "send", """{"to":"a@example.com"}""");

        var asked = ModelHumanRequests.Approval(checkable, call);
        var askedWithoutSchema = ModelHumanRequests.Approval(unchecked_, call);

        Assert.True(asked.AllowEdits);
        Assert.NotNull(asked.ResponseSchemaJson);
        Assert.Null(askedWithoutSchema.ResponseSchemaJson);
        Assert.False(askedWithoutSchema.AllowEdits);
    }

    /// <summary>A function whose parameter schema is not one the API accepts as a response schema (patternProperties).</summary>
    private sealed class RefusedSchema(AIFunction inner) : DelegatingAIFunction(inner)
    {
        public override System.Text.Json.JsonElement JsonSchema { get; } = System.Text.Json.JsonDocument.Parse(
            """{"type":"object","patternProperties":{"^to$":{"type":"string"}}}""").RootElement.Clone();
    }

    [Fact]
    public void ToolsWithTheSameName_OrNamedAskHuman_AreRefusedAtStart()
    {
        var samples = new SampleEmailTools(null!);
        var twice = new[] { new ModelTool(AIFunctionFactory.Create(() => "x", "draft_email")) };
        var askHuman = new[] { new ModelTool(AIFunctionFactory.Create(() => "x", AskHumanTool.Name)) };
        var options = Options.Create(new ModelAgentOptions());

        Assert.Throws<InvalidOperationException>(() => new ModelToolset(twice, samples, options, Microsoft.Extensions.Logging.Abstractions.NullLogger<ModelToolset>.Instance));
        Assert.Throws<InvalidOperationException>(() => new ModelToolset(askHuman, samples, options, Microsoft.Extensions.Logging.Abstractions.NullLogger<ModelToolset>.Instance));
        var withoutSamples = new ModelToolset(twice, samples, Options.Create(new ModelAgentOptions { SampleTools = false }), Microsoft.Extensions.Logging.Abstractions.NullLogger<ModelToolset>.Instance);
        Assert.Equal([AskHumanTool.Name, "draft_email"], withoutSamples.Declarations.Select(d => d.Name));
    }

    private sealed record Recorded(string Uri, string? Authorization, string Body);

    private sealed class Recorder : HttpMessageHandler
    {
        public List<Recorded> Requests { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests.Add(new Recorded(request.RequestUri!.ToString(), request.Headers.Authorization?.ToString(), await request.Content!.ReadAsStringAsync(cancellationToken)));
            return new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = new StringContent(ChatCompletions.Response("m", "hello"), Encoding.UTF8, "application/json"),
            };
        }
    }

    private sealed class OneClient(HttpClient client) : IHttpClientFactory
    {
        public HttpClient CreateClient(string name) => client;
    }
}
